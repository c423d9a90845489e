//! Parameter counts per component and an analytic count of floating-point
//! operations per frame (multiply-adds count as 2), for `slotrt info`.

use std::collections::BTreeMap;

use super::config::{DecoderConfig, EncoderConfig, ModelConfig};
use super::SlotModel;

/// Parameters per top-level component (encoder, grouping, init, predictor,
/// decoder).
pub fn parameter_counts(model: &SlotModel) -> BTreeMap<String, i64> {
    let mut counts = BTreeMap::new();
    for (name, var) in model.vs.variables() {
        let component = name.split('.').next().unwrap_or("").to_owned();
        *counts.entry(component).or_insert(0) += var.numel() as i64;
    }
    counts
}

/// FLOPs of one frame, per component.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct FrameFlops {
    /// The encoder; for a TorchScript backbone only its projection, since
    /// the backbone is opaque (`backbone_counted` is then false).
    pub encoder: f64,
    pub backbone_counted: bool,
    /// Grouping on a stream's first frame (iters_first iterations).
    pub grouping_first: f64,
    /// Grouping on later frames (iters_later iterations).
    pub grouping_later: f64,
    pub predictor: f64,
    /// The decoder, needed for training and decoder masks, not for slots.
    pub decoder: f64,
}

/// Encoder FLOPs, tokens N, backbone channels and grouping-token channels.
fn encoder_cost(config: &ModelConfig) -> (f64, i64, i64, i64) {
    let p = &config.preprocess;
    match &config.encoder {
        EncoderConfig::Cnn(cnn) => {
            let mut flops = 0.0;
            let (mut h, mut w, mut cin) = (p.height, p.width, 3i64);
            for ((&c, &k), &s) in cnn.channels.iter().zip(&cnn.kernel_sizes).zip(&cnn.strides) {
                h = (h + 2 * (k / 2) - k) / s + 1;
                w = (w + 2 * (k / 2) - k) / s + 1;
                flops += 2.0 * (cin * c * k * k * h * w) as f64;
                cin = c;
            }
            let c = cin as f64;
            flops += (h * w) as f64 * (2.0 * 4.0 * c + 2.0 * 2.0 * c * c); // position linear + MLP
            (flops, h * w, cin, cin)
        }
        EncoderConfig::Vit(v) => {
            let n = (p.height / v.patch_size) * (p.width / v.patch_size);
            let (t, d) = ((n + 1 + v.registers) as f64, v.dim as f64);
            let block = t * (2.0 * 4.0 * d * d + 2.0 * 2.0 * d * v.mlp_hidden() as f64) + 2.0 * 2.0 * t * t * d;
            let mut flops = 2.0 * (3 * v.patch_size * v.patch_size) as f64 * d * n as f64 + v.depth as f64 * block;
            let out = match &v.projection {
                Some(pr) => {
                    flops += 2.0 * n as f64 * (v.dim * pr.hidden + pr.hidden * pr.output_dim) as f64;
                    pr.output_dim
                }
                None => v.dim,
            };
            (flops, n, v.dim, out)
        }
        EncoderConfig::TorchScript(ts) => {
            let n = ts.grid_height * ts.grid_width;
            match &ts.projection {
                Some(pr) => {
                    let flops = 2.0 * n as f64 * (ts.feature_dim * pr.hidden + pr.hidden * pr.output_dim) as f64;
                    (flops, n, ts.feature_dim, pr.output_dim)
                }
                None => (0.0, n, ts.feature_dim, ts.feature_dim),
            }
        }
    }
}

/// Counts matrix products and convolutions; normalisations, softmaxes and
/// activations are left out (a few percent at these sizes).
pub fn frame_flops(config: &ModelConfig) -> FrameFlops {
    let (encoder, n, c_feature, c) = encoder_cost(config);
    let n = n as f64;
    let c = c as f64;
    let c_feature = c_feature as f64;

    let g = &config.grouping;
    let (k, d) = (g.num_slots as f64, g.slot_dim as f64);
    let keys_values = 2.0 * 2.0 * c * d * n;
    let mlp = g.mlp_hidden.map_or(0.0, |hidden| 2.0 * 2.0 * d * hidden as f64 * k);
    let per_iteration = 2.0 * d * d * k // q
        + 2.0 * 2.0 * n * k * d // logits and updates
        + 2.0 * 6.0 * d * d * k // GRU
        + mlp;
    let predictor = config
        .predictor
        .as_ref()
        .map_or(0.0, |pr| k * (2.0 * 4.0 * d * d + 2.0 * 2.0 * d * pr.ff_dim as f64) + 2.0 * 2.0 * k * k * d);

    let decoder = match &config.decoder {
        DecoderConfig::SpatialBroadcast(sb) => {
            let (mut dh, mut dw, mut dc) = (sb.broadcast_height, sb.broadcast_width, g.slot_dim);
            let mut flops = 2.0 * 4.0 * d * (dh * dw) as f64;
            for (&ch, &s) in sb.channels.iter().zip(&sb.strides) {
                flops += 2.0 * (dc * ch * 25 * dh * dw) as f64; // transposed conv: per input pixel
                dh *= s;
                dw *= s;
                dc = ch;
            }
            k * (flops + 2.0 * (dc * 4 * 9 * dh * dw) as f64)
        }
        DecoderConfig::BroadcastMlp(m) => {
            let hidden = m.hidden as f64;
            let per_pixel = 2.0 * (4.0 * d + d * hidden + (m.layers - 2) as f64 * hidden * hidden + hidden * 4.0);
            k * (m.height * m.width) as f64 * per_pixel
        }
        DecoderConfig::MlpPatch(m) => {
            let hidden = m.hidden as f64;
            let per_token = 2.0 * (d * hidden + (m.layers - 2) as f64 * hidden * hidden + hidden * (c_feature + 1.0));
            k * n * per_token
        }
        DecoderConfig::Transformer(t) => {
            let (e, kv) = (t.dim as f64, k + t.registers as f64);
            2.0 * k * d * e // slot projection
                + n * (2.0 * e * e * 2.0 + 2.0 * 2.0 * kv * e + 2.0 * 2.0 * e * t.ff_dim as f64 + 2.0 * e * c_feature)
                + kv * 2.0 * 2.0 * e * e // keys and values
        }
    };
    FrameFlops {
        encoder,
        backbone_counted: !matches!(config.encoder, EncoderConfig::TorchScript(_)),
        grouping_first: keys_values + g.iters_first as f64 * per_iteration,
        grouping_later: keys_values + g.iters_later as f64 * per_iteration,
        predictor,
        decoder,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::Device;

    #[test]
    fn counts_match_the_variables_and_scale_with_size() {
        let config = ModelConfig::savi_small_64();
        let model = SlotModel::new(&config, Device::Cpu).unwrap();
        let counts = parameter_counts(&model);
        let total: i64 = counts.values().sum();
        let direct: i64 = model.vs.variables().values().map(|v| v.numel() as i64).sum();
        assert_eq!(total, direct);
        assert_eq!(counts["init"], 2 * 64); // mu and log_sigma
                                            // First conv: 3 -> 64 channels, 5x5, over 64x64 outputs.
        let f = frame_flops(&config);
        assert!(f.encoder > 2.0 * (3 * 64 * 25 * 64 * 64) as f64);
        assert!(f.grouping_first > f.grouping_later);
        let mut bigger = config.clone();
        bigger.grouping.num_slots *= 2;
        assert!((frame_flops(&bigger).decoder / f.decoder - 2.0).abs() < 1e-9);
    }
}
