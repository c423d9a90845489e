//! Encoders: frames -> tokens [B, N, C]. The CNN is trained with the model;
//! a ViT (weights in the bundle, not trainable) or a TorchScript backbone
//! (weights in its own file) is frozen and followed by an optional trainable
//! LN + MLP projection.

mod cnn;
mod torchscript;
mod vit;

use std::path::Path;

use tch::nn::{self, Module};
use tch::{Device, Kind, Tensor};

pub use cnn::CnnEncoder;
pub use torchscript::TorchScriptEncoder;
pub use vit::VitEncoder;

use super::config::{EncoderConfig, ModelConfig, ProjectionConfig};
use super::layers::Mlp;
use crate::error::Result;

/// The 4-channel position grid [y, x, 1-y, 1-x] (linspace 0..1), shaped
/// [h, w, 4], shared by the encoder and the spatial-broadcast decoder.
pub fn position_grid(h: i64, w: i64, device: Device) -> Tensor {
    let opts = (Kind::Float, device);
    let ys = Tensor::linspace(0.0, 1.0, h, opts).view([h, 1]).expand([h, w], false);
    let xs = Tensor::linspace(0.0, 1.0, w, opts).view([1, w]).expand([h, w], false);
    Tensor::stack(&[&ys, &xs, &(1.0 - &ys), &(1.0 - &xs)], -1)
}

/// Encoder output.
#[derive(Debug)]
pub struct Encoded {
    /// Backbone features [B, N, C]: the target of feature decoders.
    pub features: Tensor,
    /// What grouping sees [B, N, Din]: the projected features (or the
    /// features themselves when there is no projection).
    pub tokens: Tensor,
}

/// DINOSAUR's projection after a backbone: LN -> Linear -> ReLU -> Linear.
/// Weights: projection.norm, projection.mlp.{0,2}.
#[derive(Debug)]
struct Projection {
    norm: nn::LayerNorm,
    mlp: Mlp,
}

impl Projection {
    fn new(vs: nn::Path, config: &ProjectionConfig, input: i64) -> Self {
        Projection {
            norm: nn::layer_norm(&vs / "norm", vec![input], Default::default()),
            mlp: Mlp::new(&vs / "mlp", input, config.hidden, config.output_dim),
        }
    }
}

#[derive(Debug)]
enum Backbone {
    Cnn(CnnEncoder),
    TorchScript(TorchScriptEncoder),
    Vit(VitEncoder),
}

#[derive(Debug)]
pub struct Encoder {
    backbone: Backbone,
    projection: Option<Projection>,
    grid: (i64, i64),
    feature_dim: i64,
    token_dim: i64,
}

impl Encoder {
    /// `base_dir` resolves files a config names (a TorchScript backbone).
    pub fn new(vs: nn::Path, config: &ModelConfig, base_dir: Option<&Path>) -> Result<Self> {
        let p = &config.preprocess;
        let (backbone, grid, feature_dim, projection) = match &config.encoder {
            EncoderConfig::Cnn(c) => {
                let cnn = CnnEncoder::new(vs.clone(), c, p.height, p.width);
                let grid = cnn.grid();
                (Backbone::Cnn(cnn), grid, c.feature_dim(), None)
            }
            EncoderConfig::Vit(c) => {
                let vit = VitEncoder::new(vs.clone(), c, p.height, p.width);
                let grid = (p.height / c.patch_size, p.width / c.patch_size);
                (Backbone::Vit(vit), grid, c.dim, c.projection.as_ref())
            }
            EncoderConfig::TorchScript(c) => {
                let ts = TorchScriptEncoder::load(c, base_dir, vs.device())?;
                (Backbone::TorchScript(ts), (c.grid_height, c.grid_width), c.feature_dim, c.projection.as_ref())
            }
        };
        let token_dim = projection.map_or(feature_dim, |pr| pr.output_dim);
        let projection = projection.map(|pr| Projection::new(&vs / "projection", pr, feature_dim));
        Ok(Encoder { backbone, projection, grid, feature_dim, token_dim })
    }

    /// Token grid (h, w); N = h * w.
    pub fn grid(&self) -> (i64, i64) {
        self.grid
    }

    /// Channels of the backbone features.
    pub fn feature_dim(&self) -> i64 {
        self.feature_dim
    }

    /// Channels of the tokens grouping sees.
    pub fn token_dim(&self) -> i64 {
        self.token_dim
    }

    /// Normalised images [B, 3, H, W] -> features and tokens.
    /// Whether the backbone is a convolution stack (`encoder.convs`), the
    /// part reduced precision applies to.
    pub fn has_conv_stack(&self) -> bool {
        matches!(self.backbone, Backbone::Cnn(_))
    }

    /// Channels-last convolutions (`model::layout`); false, doing nothing,
    /// when the encoder is not a CNN.
    pub fn set_channels_last(&mut self, on: bool) -> bool {
        match &mut self.backbone {
            Backbone::Cnn(cnn) => {
                cnn.set_channels_last(on);
                true
            }
            _ => false,
        }
    }

    pub fn forward(&self, images: &Tensor) -> Result<Encoded> {
        let features = match &self.backbone {
            Backbone::Cnn(cnn) => cnn.forward(images),
            Backbone::TorchScript(ts) => ts.forward(images, self.grid, self.feature_dim)?,
            Backbone::Vit(vit) => vit.forward(images),
        };
        let tokens = match &self.projection {
            Some(p) => p.mlp.forward(&p.norm.forward(&features)),
            None => features.shallow_clone(),
        };
        Ok(Encoded { features, tokens })
    }
}

/// Kind of every float tensor the encoders produce.
pub(crate) const FLOAT: Kind = Kind::Float;
