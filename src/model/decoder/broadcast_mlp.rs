//! Spatial broadcast with a per-position MLP: every slot is tiled over the
//! output grid, a position embedding (Linear of the 4-channel grid) is
//! added, and a shared MLP gives RGB + alpha per pixel; alpha is a softmax
//! over slots.

use tch::nn::{self, Module};
use tch::{Kind, Tensor};

use super::Decoded;
use crate::model::config::BroadcastMlpConfig;
use crate::model::encoder::position_grid;

#[derive(Debug)]
pub struct BroadcastMlpDecoder {
    pos: nn::Linear,
    layers: Vec<nn::Linear>,
    grid: Tensor,
}

impl BroadcastMlpDecoder {
    /// Weights: pos, mlp.{0,2,..} (an nn.Sequential with ReLUs between).
    pub fn new(vs: nn::Path, config: &BroadcastMlpConfig, slot_dim: i64) -> Self {
        let layers = (0..config.layers)
            .map(|i| {
                let input = if i == 0 { slot_dim } else { config.hidden };
                let output = if i + 1 == config.layers { 4 } else { config.hidden };
                nn::linear(&vs / "mlp" / (2 * i), input, output, Default::default())
            })
            .collect();
        BroadcastMlpDecoder {
            pos: nn::linear(&vs / "pos", 4, slot_dim, Default::default()),
            layers,
            grid: position_grid(config.height, config.width, vs.device()),
        }
    }

    pub fn forward(&self, slots: &Tensor) -> Decoded {
        let (b, k, d) = slots.size3().expect("slots [B, K, D]");
        let mut x = slots.reshape([b, k, 1, 1, d]) + self.pos.forward(&self.grid); // [B, K, h, w, D]
        for (i, layer) in self.layers.iter().enumerate() {
            x = layer.forward(&x);
            if i + 1 < self.layers.len() {
                x = x.relu();
            }
        }
        let x = x.permute([0, 1, 4, 2, 3]); // [B, K, 4, h, w]
        let masks = x.narrow(2, 3, 1).softmax(1, Kind::Float);
        let reconstruction = (&masks * x.narrow(2, 0, 3)).sum_dim_intlist(1, false, Kind::Float);
        Decoded { reconstruction, masks: masks.squeeze_dim(2) }
    }
}
