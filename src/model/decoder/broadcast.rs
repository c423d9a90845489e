//! Spatial-broadcast mixture decoder: every slot is tiled over a grid with
//! a position embedding, upsampled by transposed convolutions to RGB + alpha
//! logits; alpha is a softmax over slots and the reconstruction is the
//! alpha-weighted sum.

use tch::nn::{self, Module};
use tch::{Kind, Tensor};

use super::Decoded;
use crate::model::config::SpatialBroadcastConfig;
use crate::model::encoder::position_grid;

#[derive(Debug)]
pub struct SpatialBroadcastDecoder {
    pos: nn::Linear,
    layers: Vec<nn::ConvTranspose2D>,
    out: nn::Conv2D,
    grid: Tensor,
}

impl SpatialBroadcastDecoder {
    /// Weights: pos, layers.{i} (5x5 transposed convs), out (3x3 conv to 4).
    pub fn new(vs: nn::Path, config: &SpatialBroadcastConfig, slot_dim: i64) -> Self {
        let mut layers = Vec::new();
        let mut in_channels = slot_dim;
        for (i, (&c, &s)) in config.channels.iter().zip(&config.strides).enumerate() {
            let cfg = nn::ConvTransposeConfig { stride: s, padding: 2, output_padding: s - 1, ..Default::default() };
            layers.push(nn::conv_transpose2d(&vs / "layers" / i, in_channels, c, 5, cfg));
            in_channels = c;
        }
        let out_cfg = nn::ConvConfig { padding: 1, ..Default::default() };
        SpatialBroadcastDecoder {
            pos: nn::linear(&vs / "pos", 4, slot_dim, Default::default()),
            layers,
            out: nn::conv2d(&vs / "out", in_channels, 4, 3, out_cfg),
            grid: position_grid(config.broadcast_height, config.broadcast_width, vs.device()),
        }
    }

    /// Slots [B, K, D] -> reconstruction and masks.
    pub fn forward(&self, slots: &Tensor) -> Decoded {
        let (b, k, d) = slots.size3().expect("slots [B, K, D]");
        let x = slots.reshape([b * k, 1, 1, d]) + self.pos.forward(&self.grid); // [BK, gh, gw, D]
        let mut x = x.permute([0, 3, 1, 2]);
        for layer in &self.layers {
            x = layer.forward(&x).relu();
        }
        let x = self.out.forward(&x);
        let (_, _, h, w) = x.size4().expect("[BK, 4, H, W]");
        let x = x.view([b, k, 4, h, w]);
        let rgb = x.narrow(2, 0, 3);
        let masks = x.narrow(2, 3, 1).softmax(1, Kind::Float); // [B, K, 1, H, W]
        let reconstruction = (&masks * rgb).sum_dim_intlist(1, false, Kind::Float);
        Decoded { reconstruction, masks: masks.squeeze_dim(2) }
    }
}
