//! DINOSAUR's MLP patch decoder: every slot is broadcast to all token
//! positions with a learned position embedding; a shared MLP predicts the
//! token's features and an alpha logit; alpha is a softmax over slots.

use tch::nn::{self, Module};
use tch::{Kind, Tensor};

use super::Decoded;
use crate::model::config::MlpPatchConfig;
use crate::model::layers::DeepMlp;

#[derive(Debug)]
pub struct MlpPatchDecoder {
    pos_embed: Tensor,
    mlp: DeepMlp,
    grid: (i64, i64),
}

impl MlpPatchDecoder {
    /// Weights: pos_embed [1, N, D], mlp.{0,2,4,..} (as an nn.Sequential with
    /// ReLUs between the Linear layers).
    pub fn new(vs: nn::Path, config: &MlpPatchConfig, slot_dim: i64, grid: (i64, i64), feature_dim: i64) -> Self {
        let tokens = grid.0 * grid.1;
        MlpPatchDecoder {
            pos_embed: vs.var("pos_embed", &[1, tokens, slot_dim], nn::Init::Randn { mean: 0.0, stdev: 0.02 }),
            mlp: DeepMlp::new(&vs / "mlp", slot_dim, config.hidden, feature_dim + 1, config.layers),
            grid,
        }
    }

    pub fn forward(&self, slots: &Tensor) -> Decoded {
        let (b, k, _) = slots.size3().expect("slots [B, K, D]");
        let x = self.mlp.forward(&(slots.unsqueeze(2) + self.pos_embed.unsqueeze(0))); // [B, K, N, C+1]
        let c = x.size()[3] - 1;
        let alpha = x.narrow(3, c, 1).softmax(1, Kind::Float); // [B, K, N, 1]
        let reconstruction = (&alpha * x.narrow(3, 0, c)).sum_dim_intlist(1, false, Kind::Float);
        let (h, w) = self.grid;
        Decoded { reconstruction, masks: alpha.squeeze_dim(3).reshape([b, k, h, w]) }
    }
}
