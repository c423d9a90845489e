//! CNN encoder: conv stack, position grid, LayerNorm, MLP -> tokens [B, N, C].

use tch::nn::{self, Module};
use tch::{Kind, Tensor};

use super::position_grid;
use crate::model::config::CnnEncoderConfig;
use crate::model::layers::Mlp;
use crate::model::layout::to_channels_last;

#[derive(Debug)]
pub struct CnnEncoder {
    convs: Vec<nn::Conv2D>,
    pos: nn::Linear,
    norm: nn::LayerNorm,
    mlp: Mlp,
    grid: (i64, i64),
    pos_grid: Tensor,
    /// Input and conv weights in channels-last strides (`model::layout`).
    channels_last: bool,
}

impl CnnEncoder {
    /// Weights: convs.{i}, pos, norm, mlp.{0,2}.
    pub fn new(vs: nn::Path, config: &CnnEncoderConfig, in_height: i64, in_width: i64) -> Self {
        let mut convs = Vec::new();
        let mut in_channels = 3;
        for (i, ((&c, &k), &s)) in config.channels.iter().zip(&config.kernel_sizes).zip(&config.strides).enumerate() {
            let conv_config = nn::ConvConfig { stride: s, padding: k / 2, ..Default::default() };
            convs.push(nn::conv2d(&vs / "convs" / i, in_channels, c, k, conv_config));
            in_channels = c;
        }
        let dim = config.feature_dim();
        let grid = config.token_grid(in_height, in_width);
        CnnEncoder {
            convs,
            pos: nn::linear(&vs / "pos", 4, dim, Default::default()),
            norm: nn::layer_norm(&vs / "norm", vec![dim], Default::default()),
            mlp: Mlp::new(&vs / "mlp", dim, dim, dim),
            grid,
            pos_grid: position_grid(grid.0, grid.1, vs.device()),
            channels_last: false,
        }
    }

    /// Puts the conv weights in channels-last strides (or back), in place:
    /// the var store sees the same tensors.
    pub fn set_channels_last(&mut self, on: bool) {
        for conv in &mut self.convs {
            let ws = if on { to_channels_last(&conv.ws) } else { conv.ws.contiguous() };
            tch::no_grad(|| conv.ws.set_data(&ws));
        }
        self.channels_last = on;
    }

    /// Token grid (h, w); N = h * w.
    pub fn grid(&self) -> (i64, i64) {
        self.grid
    }

    /// Normalised images [B, 3, H, W] -> tokens [B, N, C].
    pub fn forward(&self, images: &Tensor) -> Tensor {
        // The convs compute in their weights' kind (bf16/fp16 under reduced
        // precision, see `model::precision`) and layout; the rest in fp32.
        // Channels-last output makes the permute to [B, h, w, C] free.
        let mut x = images.to_kind(self.convs.first().map_or(Kind::Float, |c| c.ws.kind()));
        if self.channels_last {
            x = to_channels_last(&x);
        }
        for conv in &self.convs {
            x = conv.forward(&x).relu();
        }
        let x = x.to_kind(Kind::Float).permute([0, 2, 3, 1]) + self.pos.forward(&self.pos_grid); // [B, h, w, C]
        let x = x.flatten(1, 2);
        self.mlp.forward(&self.norm.forward(&x))
    }
}
