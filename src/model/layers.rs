//! Building blocks whose weight names follow PyTorch's modules, so a
//! PyTorch `state_dict` maps onto them one to one: GRUCell, MLP, and a
//! TransformerEncoderLayer-style block.

use tch::nn::{self, Module};
use tch::Tensor;

/// `torch.nn.GRUCell`: weight_ih [3H, I], weight_hh [3H, H], bias_ih, bias_hh
/// (gate order r, z, n).
#[derive(Debug)]
pub struct GruCell {
    weight_ih: Tensor,
    weight_hh: Tensor,
    bias_ih: Tensor,
    bias_hh: Tensor,
}

impl GruCell {
    pub fn new(vs: nn::Path, input: i64, hidden: i64) -> Self {
        let bound = 1.0 / (hidden as f64).sqrt();
        let init = nn::Init::Uniform { lo: -bound, up: bound };
        GruCell {
            weight_ih: vs.var("weight_ih", &[3 * hidden, input], init),
            weight_hh: vs.var("weight_hh", &[3 * hidden, hidden], init),
            bias_ih: vs.var("bias_ih", &[3 * hidden], init),
            bias_hh: vs.var("bias_hh", &[3 * hidden], init),
        }
    }

    /// One step: input [.., I], hidden [.., H] -> new hidden [.., H].
    pub fn step(&self, input: &Tensor, hidden: &Tensor) -> Tensor {
        let gi = input.linear(&self.weight_ih, Some(&self.bias_ih)).chunk(3, -1);
        let gh = hidden.linear(&self.weight_hh, Some(&self.bias_hh)).chunk(3, -1);
        let r = (&gi[0] + &gh[0]).sigmoid();
        let z = (&gi[1] + &gh[1]).sigmoid();
        let n = (&gi[2] + &r * &gh[2]).tanh();
        (1.0 - &z) * n + z * hidden
    }
}

/// Linear -> ReLU -> Linear, named `0` and `2` as in an `nn.Sequential`.
#[derive(Debug)]
pub struct Mlp {
    first: nn::Linear,
    second: nn::Linear,
}

impl Mlp {
    pub fn new(vs: nn::Path, input: i64, hidden: i64, output: i64) -> Self {
        Mlp {
            first: nn::linear(&vs / "0", input, hidden, Default::default()),
            second: nn::linear(&vs / "2", hidden, output, Default::default()),
        }
    }
}

impl Module for Mlp {
    fn forward(&self, x: &Tensor) -> Tensor {
        self.second.forward(&self.first.forward(x).relu())
    }
}

/// `layers` Linear layers with ReLU between them, named `0, 2, 4, ..` as in
/// an `nn.Sequential` that interleaves `nn.ReLU()`.
#[derive(Debug)]
pub struct DeepMlp {
    layers: Vec<nn::Linear>,
}

impl DeepMlp {
    pub fn new(vs: nn::Path, input: i64, hidden: i64, output: i64, layers: i64) -> Self {
        let layers = (0..layers)
            .map(|i| {
                let from = if i == 0 { input } else { hidden };
                let to = if i + 1 == layers { output } else { hidden };
                nn::linear(&vs / (2 * i), from, to, Default::default())
            })
            .collect();
        DeepMlp { layers }
    }
}

impl Module for DeepMlp {
    fn forward(&self, x: &Tensor) -> Tensor {
        let mut x = x.shallow_clone();
        for (i, layer) in self.layers.iter().enumerate() {
            x = layer.forward(&x);
            if i + 1 < self.layers.len() {
                x = x.relu();
            }
        }
        x
    }
}

/// `torch.nn.MultiheadAttention` (batch_first, no dropout): in_proj_weight
/// [3E, E], in_proj_bias [3E], out_proj.
#[derive(Debug)]
pub struct MultiheadAttention {
    in_proj_weight: Tensor,
    in_proj_bias: Tensor,
    out_proj: nn::Linear,
    heads: i64,
}

impl MultiheadAttention {
    pub fn new(vs: nn::Path, dim: i64, heads: i64) -> Self {
        let bound = (6.0 / (dim + 3 * dim) as f64).sqrt(); // xavier_uniform, as PyTorch
        MultiheadAttention {
            in_proj_weight: vs.var("in_proj_weight", &[3 * dim, dim], nn::Init::Uniform { lo: -bound, up: bound }),
            in_proj_bias: vs.zeros("in_proj_bias", &[3 * dim]),
            out_proj: nn::linear(&vs / "out_proj", dim, dim, Default::default()),
            heads,
        }
    }

    /// query [B, Nq, E] attends to kv [B, Nk, E]; returns the output
    /// [B, Nq, E] and the attention weights averaged over heads [B, Nq, Nk].
    pub fn forward(&self, query: &Tensor, kv: &Tensor) -> (Tensor, Tensor) {
        let (b, nq, e) = query.size3().expect("query [B, Nq, E]");
        let nk = kv.size()[1];
        let h = self.heads;
        let w = self.in_proj_weight.chunk(3, 0);
        let bias = self.in_proj_bias.chunk(3, 0);
        let split = |t: Tensor, n: i64| t.reshape([b, n, h, e / h]).transpose(1, 2); // [B, h, n, e/h]
        let q = split(query.linear(&w[0], Some(&bias[0])), nq);
        let k = split(kv.linear(&w[1], Some(&bias[1])), nk);
        let v = split(kv.linear(&w[2], Some(&bias[2])), nk);
        let scale = ((e / h) as f64).powf(-0.5);
        let attn = (q.matmul(&k.transpose(-2, -1)) * scale).softmax(-1, tch::Kind::Float);
        let out = attn.matmul(&v).transpose(1, 2).reshape([b, nq, e]);
        (self.out_proj.forward(&out), attn.mean_dim(1, false, tch::Kind::Float))
    }
}

/// `torch.nn.TransformerEncoderLayer` (batch_first, ReLU, no dropout):
/// self_attn, linear1, linear2, norm1, norm2; pre- or post-LN.
#[derive(Debug)]
pub struct TransformerBlock {
    self_attn: MultiheadAttention,
    linear1: nn::Linear,
    linear2: nn::Linear,
    norm1: nn::LayerNorm,
    norm2: nn::LayerNorm,
    pre_norm: bool,
}

impl TransformerBlock {
    pub fn new(vs: nn::Path, dim: i64, heads: i64, ff_dim: i64, pre_norm: bool) -> Self {
        TransformerBlock {
            self_attn: MultiheadAttention::new(&vs / "self_attn", dim, heads),
            linear1: nn::linear(&vs / "linear1", dim, ff_dim, Default::default()),
            linear2: nn::linear(&vs / "linear2", ff_dim, dim, Default::default()),
            norm1: nn::layer_norm(&vs / "norm1", vec![dim], Default::default()),
            norm2: nn::layer_norm(&vs / "norm2", vec![dim], Default::default()),
            pre_norm,
        }
    }

    fn self_attention(&self, x: &Tensor) -> Tensor {
        self.self_attn.forward(x, x).0
    }

    fn feed_forward(&self, x: &Tensor) -> Tensor {
        self.linear2.forward(&self.linear1.forward(x).relu())
    }

    /// x [B, N, D] -> [B, N, D].
    pub fn forward(&self, x: &Tensor) -> Tensor {
        if self.pre_norm {
            let x = x + self.self_attention(&self.norm1.forward(x));
            &x + self.feed_forward(&self.norm2.forward(&x))
        } else {
            let x = self.norm1.forward(&(x + self.self_attention(x)));
            self.norm2.forward(&(&x + self.feed_forward(&x)))
        }
    }
}
