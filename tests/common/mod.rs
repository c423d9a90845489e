//! Helpers shared by the integration tests.

use slotrt::model::config::{CnnEncoderConfig, DecoderConfig, EncoderConfig, SpatialBroadcastConfig};
use slotrt::model::ModelConfig;

/// A small SAVi-style config (4 slots of 16, `size` x `size` input) that
/// runs in milliseconds: for runtime and fine-tuning tests, not quality.
pub fn tiny_config(size: i64) -> ModelConfig {
    let mut c = ModelConfig::savi_small_64();
    c.preprocess.height = size;
    c.preprocess.width = size;
    c.encoder =
        EncoderConfig::Cnn(CnnEncoderConfig { channels: vec![16, 16], kernel_sizes: vec![3, 3], strides: vec![2, 1] });
    c.grouping.num_slots = 4;
    c.grouping.slot_dim = 16;
    c.grouping.mlp_hidden = Some(32);
    c.predictor.as_mut().unwrap().ff_dim = 32;
    c.decoder = DecoderConfig::SpatialBroadcast(SpatialBroadcastConfig {
        broadcast_height: 8,
        broadcast_width: 8,
        channels: vec![16, 16],
        strides: vec![2, 2],
    });
    c
}
