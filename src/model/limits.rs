//! Bounds on a bundle's config, checked at load, so that no bundle (a
//! corrupt or hostile one included) can make a call run unbounded or make
//! libtorch allocate beyond what its weights honestly need:
//! * every numeric field has a range (the constants below, documented in
//!   docs/ARCHITECTURE.md), which bounds the work per frame;
//! * the main weight matrices a config implies must fit in the tensors the
//!   file actually holds (`weights_lower_bound`), checked before any weight
//!   is allocated.

use super::config::{DecoderConfig, EncoderConfig, ModelConfig, SlotInitConfig};
use crate::error::{Error, Result};

/// Input height / width, token grids, decoder grids.
pub const MAX_SIZE: i64 = 4096;
/// Channels, embedding and hidden widths, slot dimension.
pub const MAX_WIDTH: i64 = 8192;
/// Attention heads.
pub const MAX_HEADS: i64 = 64;
/// Slots per frame.
pub const MAX_SLOTS: i64 = 256;
/// Slot Attention iterations per frame.
pub const MAX_ITERATIONS: i64 = 20;
/// Convolution kernel size and ViT patch size.
pub const MAX_KERNEL: i64 = 64;
/// Layers of an encoder, decoder or MLP; ViT depth.
pub const MAX_LAYERS: usize = 64;
/// Register tokens (ViT, CODA decoder).
pub const MAX_REGISTERS: i64 = 64;

/// `value` in `lo..=hi`, else BAD_MODEL naming the field.
pub fn check_in(value: i64, lo: i64, hi: i64, field: &str) -> Result<()> {
    if (lo..=hi).contains(&value) {
        Ok(())
    } else {
        Err(Error::BadModel(format!("config: {field} is {value}, must be in {lo}..={hi}")))
    }
}

/// A list (layers) of at most MAX_LAYERS entries.
pub fn check_layers(len: usize, field: &str) -> Result<()> {
    if len <= MAX_LAYERS {
        Ok(())
    } else {
        Err(Error::BadModel(format!("config: {field} has {len} entries, at most {MAX_LAYERS} allowed")))
    }
}

/// A lower bound on the number of weights (f32 elements) the model a valid
/// config describes holds: only the large matrices each part certainly has
/// (biases, norms and small tables left out), so a real bundle always holds
/// at least this many. Saturates instead of overflowing.
pub fn weights_lower_bound(c: &ModelConfig) -> u64 {
    let m = |a: i64, b: i64| (a.max(0) as u64).saturating_mul(b.max(0) as u64);
    let g = &c.grouping;
    let d = g.slot_dim;
    let mut n: u64 = 0;
    let mut add = |x: u64| n = n.saturating_add(x);
    let (token_dim, tokens) = match &c.encoder {
        EncoderConfig::Cnn(e) => {
            let mut cin = 3;
            for (&cout, &k) in e.channels.iter().zip(&e.kernel_sizes) {
                add(m(m(cin, cout) as i64, k * k));
                cin = cout;
            }
            let (h, w) = e.token_grid(c.preprocess.height, c.preprocess.width);
            (e.feature_dim(), m(h, w) as i64)
        }
        EncoderConfig::Vit(v) => {
            add(m(3 * v.patch_size * v.patch_size, v.dim));
            add(m(v.depth, m(4 * v.dim, v.dim) as i64));
            let out = match &v.projection {
                Some(p) => {
                    add(m(v.dim, p.hidden).saturating_add(m(p.hidden, p.output_dim)));
                    p.output_dim
                }
                None => v.dim,
            };
            let ps = v.patch_size.max(1);
            (out, m(c.preprocess.height / ps, c.preprocess.width / ps) as i64)
        }
        EncoderConfig::TorchScript(t) => {
            let out = match &t.projection {
                Some(p) => {
                    add(m(t.feature_dim, p.hidden).saturating_add(m(p.hidden, p.output_dim)));
                    p.output_dim
                }
                None => t.feature_dim,
            };
            (out, m(t.grid_height, t.grid_width) as i64)
        }
    };
    // to_k, to_v; to_q; the GRU's input and hidden matrices (3 gates each).
    add(m(2 * token_dim, d).saturating_add(m(7 * d, d)));
    if let Some(h) = g.mlp_hidden {
        add(m(2 * d, h));
    }
    match c.init {
        SlotInitConfig::LearnedQueries => add(m(g.num_slots, d)),
        SlotInitConfig::Conditional { hidden } => add(m(hidden, d)),
        _ => {}
    }
    if let Some(p) = &c.predictor {
        add(m(4 * d, d).saturating_add(m(2 * d, p.ff_dim)));
    }
    match &c.decoder {
        DecoderConfig::SpatialBroadcast(sb) => {
            let mut cin = d;
            for &cout in &sb.channels {
                add(m(m(cin, cout) as i64, 25));
                cin = cout;
            }
        }
        DecoderConfig::BroadcastMlp(b) => {
            add(m(d, b.hidden).saturating_add(m(m(b.hidden, b.hidden) as i64, (b.layers - 2).max(0))))
        }
        DecoderConfig::MlpPatch(p) => {
            add(m(d, p.hidden).saturating_add(m(m(p.hidden, p.hidden) as i64, (p.layers - 2).max(0))))
        }
        DecoderConfig::Transformer(t) => {
            add(m(d, t.dim).saturating_add(m(tokens, t.dim)).saturating_add(m(2 * t.dim, t.ff_dim)));
        }
    }
    n
}
