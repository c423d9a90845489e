//! Spatial broadcast with a per-position MLP: every slot is tiled over the
//! output grid, a position embedding (Linear of the 4-channel grid) is
//! added, and a shared MLP gives RGB + alpha per pixel; alpha is a softmax
//! over slots.

use tch::nn::{self, Module};
use tch::{Kind, Tensor};

use super::Decoded;
use crate::model::config::BroadcastMlpConfig;
use crate::model::encoder::position_grid;
use crate::model::layers::DeepMlp;

#[derive(Debug)]
pub struct BroadcastMlpDecoder {
    pos: nn::Linear,
    mlp: DeepMlp,
    grid: Tensor,
}

impl BroadcastMlpDecoder {
    /// Weights: pos, mlp.{0,2,..} (an nn.Sequential with ReLUs between).
    pub fn new(vs: nn::Path, config: &BroadcastMlpConfig, slot_dim: i64) -> Self {
        BroadcastMlpDecoder {
            pos: nn::linear(&vs / "pos", 4, slot_dim, Default::default()),
            mlp: DeepMlp::new(&vs / "mlp", slot_dim, config.hidden, 4, config.layers),
            grid: position_grid(config.height, config.width, vs.device()),
        }
    }

    pub fn forward(&self, slots: &Tensor) -> Decoded {
        let (b, k, d) = slots.size3().expect("slots [B, K, D]");
        let x = self.mlp.forward(&(slots.reshape([b, k, 1, 1, d]) + self.pos.forward(&self.grid)));
        let x = x.permute([0, 1, 4, 2, 3]); // [B, K, 4, h, w]
        let masks = x.narrow(2, 3, 1).softmax(1, Kind::Float);
        let reconstruction = (&masks * x.narrow(2, 0, 3)).sum_dim_intlist(1, false, Kind::Float);
        Decoded { reconstruction, masks: masks.squeeze_dim(2) }
    }
}
