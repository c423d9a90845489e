//! Decoders: the training signal, and the decoder masks. Spatial broadcast
//! reconstructs pixels; the MLP-patch and transformer decoders reconstruct
//! encoder tokens.

mod broadcast;
mod broadcast_mlp;
mod mlp_patch;
mod transformer;

use tch::{nn, Tensor};

pub use broadcast::SpatialBroadcastDecoder;
pub use broadcast_mlp::BroadcastMlpDecoder;
pub use mlp_patch::MlpPatchDecoder;
pub use transformer::TransformerDecoder;

use super::config::DecoderConfig;

/// Decoder output.
#[derive(Debug)]
pub struct Decoded {
    /// Pixels [B, 3, H', W'] (normalised space) or encoder tokens [B, N, C].
    pub reconstruction: Tensor,
    /// Masks [B, K, h, w]: alpha (summing to 1 over K) or attention.
    pub masks: Tensor,
}

#[derive(Debug)]
pub enum Decoder {
    SpatialBroadcast(SpatialBroadcastDecoder),
    BroadcastMlp(BroadcastMlpDecoder),
    MlpPatch(MlpPatchDecoder),
    Transformer(TransformerDecoder),
}

impl Decoder {
    /// `grid` (h, w) and `feature_dim` describe the encoder's tokens.
    pub fn new(vs: nn::Path, config: &DecoderConfig, slot_dim: i64, grid: (i64, i64), feature_dim: i64) -> Self {
        match config {
            DecoderConfig::SpatialBroadcast(c) => {
                Decoder::SpatialBroadcast(SpatialBroadcastDecoder::new(vs, c, slot_dim))
            }
            DecoderConfig::BroadcastMlp(c) => Decoder::BroadcastMlp(BroadcastMlpDecoder::new(vs, c, slot_dim)),
            DecoderConfig::MlpPatch(c) => Decoder::MlpPatch(MlpPatchDecoder::new(vs, c, slot_dim, grid, feature_dim)),
            DecoderConfig::Transformer(c) => {
                Decoder::Transformer(TransformerDecoder::new(vs, c, slot_dim, grid, feature_dim))
            }
        }
    }

    /// Slots [B, K, D] -> reconstruction and masks.
    pub fn forward(&self, slots: &Tensor) -> Decoded {
        match self {
            Decoder::SpatialBroadcast(d) => d.forward(slots),
            Decoder::BroadcastMlp(d) => d.forward(slots),
            Decoder::MlpPatch(d) => d.forward(slots),
            Decoder::Transformer(d) => d.forward(slots),
        }
    }
}
