//! Transformer decoder: learned per-token queries cross-attend to the
//! projected slots and, optionally, CODA register slots; an MLP block and a
//! projection give the token's features. The masks are the (head-averaged)
//! attention of each token over the real slots.

use tch::nn::{self, Module};
use tch::Tensor;

use super::Decoded;
use crate::model::config::TransformerDecoderConfig;
use crate::model::layers::{Mlp, MultiheadAttention};

#[derive(Debug)]
pub struct TransformerDecoder {
    slot_proj: nn::Linear,
    registers: Option<Tensor>,
    pos_embed: Tensor,
    norm_q: nn::LayerNorm,
    norm_kv: nn::LayerNorm,
    cross_attn: MultiheadAttention,
    norm_ff: nn::LayerNorm,
    mlp: Mlp,
    norm_out: nn::LayerNorm,
    out: nn::Linear,
    grid: (i64, i64),
}

impl TransformerDecoder {
    /// Weights: slot_proj, registers [R, E], pos_embed [1, N, E], norm_q,
    /// norm_kv, cross_attn, norm_ff, mlp.{0,2}, norm_out, out.
    pub fn new(vs: nn::Path, c: &TransformerDecoderConfig, slot_dim: i64, grid: (i64, i64), feature_dim: i64) -> Self {
        let e = c.dim;
        let ln = |name: &str| nn::layer_norm(&vs / name, vec![e], Default::default());
        let small = nn::Init::Randn { mean: 0.0, stdev: 0.02 };
        TransformerDecoder {
            slot_proj: nn::linear(&vs / "slot_proj", slot_dim, e, Default::default()),
            registers: (c.registers > 0).then(|| vs.var("registers", &[c.registers, e], small)),
            pos_embed: vs.var("pos_embed", &[1, grid.0 * grid.1, e], small),
            norm_q: ln("norm_q"),
            norm_kv: ln("norm_kv"),
            cross_attn: MultiheadAttention::new(&vs / "cross_attn", e, c.heads),
            norm_ff: ln("norm_ff"),
            mlp: Mlp::new(&vs / "mlp", e, c.ff_dim, e),
            norm_out: ln("norm_out"),
            out: nn::linear(&vs / "out", e, feature_dim, Default::default()),
            grid,
        }
    }

    pub fn forward(&self, slots: &Tensor) -> Decoded {
        let (b, k, _) = slots.size3().expect("slots [B, K, D]");
        let mut kv = self.slot_proj.forward(slots);
        if let Some(registers) = &self.registers {
            let (r, e) = registers.size2().expect("registers [R, E]");
            kv = Tensor::cat(&[kv, registers.unsqueeze(0).expand([b, r, e], false)], 1);
        }
        let n = self.pos_embed.size()[1];
        let queries = self.pos_embed.expand([b, n, self.pos_embed.size()[2]], false);
        let (attended, weights) = self.cross_attn.forward(&self.norm_q.forward(&queries), &self.norm_kv.forward(&kv));
        let x = &queries + attended;
        let x = &x + self.mlp.forward(&self.norm_ff.forward(&x));
        let reconstruction = self.out.forward(&self.norm_out.forward(&x));
        let (h, w) = self.grid;
        let masks = weights.narrow(2, 0, k).transpose(1, 2).reshape([b, k, h, w]);
        Decoded { reconstruction, masks }
    }
}
