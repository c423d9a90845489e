//! Slot Attention with the variant switches of `../shared/MODELS.md` §2,
//! and the slot initialisers.

use tch::nn::{self, Module};
use tch::{Kind, Tensor};

use super::config::{Renormalization, SlotAttentionConfig, SlotInitConfig};
use super::layers::{GruCell, Mlp};
use crate::error::{Error, Result};

/// Result of grouping one frame.
#[derive(Debug)]
pub struct Grouping {
    /// Corrected slots [B, K, D].
    pub slots: Tensor,
    /// Attention of every iteration, softmax over slots: [B, K, N] each.
    pub attention: Vec<Tensor>,
}

#[derive(Debug)]
pub struct SlotAttention {
    norm_input: nn::LayerNorm,
    to_k: nn::Linear,
    to_v: nn::Linear,
    norm_slots: nn::LayerNorm,
    to_q: nn::Linear,
    gru: GruCell,
    mlp: Option<(nn::LayerNorm, Mlp)>,
    config: SlotAttentionConfig,
}

impl SlotAttention {
    /// Weights: norm_input, to_k, to_v, norm_slots, to_q, gru, norm_mlp, mlp.
    pub fn new(vs: nn::Path, config: &SlotAttentionConfig, input_dim: i64) -> Self {
        let d = config.slot_dim;
        let lin = nn::LinearConfig { bias: config.qkv_bias, ..Default::default() };
        SlotAttention {
            norm_input: nn::layer_norm(&vs / "norm_input", vec![input_dim], Default::default()),
            to_k: nn::linear(&vs / "to_k", input_dim, d, lin),
            to_v: nn::linear(&vs / "to_v", input_dim, d, lin),
            norm_slots: nn::layer_norm(&vs / "norm_slots", vec![d], Default::default()),
            to_q: nn::linear(&vs / "to_q", d, d, lin),
            gru: GruCell::new(&vs / "gru", d, d),
            mlp: config.mlp_hidden.map(|h| {
                (nn::layer_norm(&vs / "norm_mlp", vec![d], Default::default()), Mlp::new(&vs / "mlp", d, h, d))
            }),
            config: config.clone(),
        }
    }

    /// Groups tokens [B, N, Din] starting from `slots` [B, K, D]. With
    /// `active` ([B, K] bool), inactive slots get no attention (DIAS
    /// re-initialised aggregation).
    pub fn forward(&self, tokens: &Tensor, slots: &Tensor, iterations: i64, active: Option<&Tensor>) -> Grouping {
        let (b, n, _) = tokens.size3().expect("tokens [B, N, Din]");
        let (_, k, d) = slots.size3().expect("slots [B, K, D]");
        let h = self.config.heads;
        let hd = d / h;
        let x = self.norm_input.forward(tokens);
        let keys = self.to_k.forward(&x).view([b, n, h, hd]);
        let values = self.to_v.forward(&x).view([b, n, h, hd]);
        let scale = (hd as f64).powf(-0.5);
        let mut slots = slots.shallow_clone();
        let mut attention = Vec::with_capacity(iterations as usize);
        for _ in 0..iterations {
            let prev = slots.shallow_clone();
            let normed = self.norm_slots.forward(&slots);
            let q = self.to_q.forward(&normed).view([b, k, h, hd]);
            // logits [B, N, K, h]; softmax jointly over slots x heads.
            let mut logits = Tensor::einsum("bnhd,bkhd->bnkh", &[&keys, &q], None::<&[i64]>) * scale;
            if let Some(active) = active {
                let inactive = active.logical_not().view([b, 1, k, 1]);
                logits = logits.masked_fill(&inactive, f64::NEG_INFINITY);
            }
            let attn = logits.reshape([b, n, k * h]).softmax(-1, Kind::Float).reshape([b, n, k, h]);
            let weights = match self.config.renormalization {
                Renormalization::EpsInside => {
                    let a = &attn + self.config.eps;
                    &a / a.sum_dim_intlist(1, true, Kind::Float)
                }
                Renormalization::EpsOutside => &attn / (attn.sum_dim_intlist(1, true, Kind::Float) + self.config.eps),
            };
            let updates = Tensor::einsum("bnkh,bnhd->bkhd", &[&weights, &values], None::<&[i64]>).reshape([b, k, d]);
            let hidden = if self.config.gru_hidden_normalized { normed } else { prev };
            slots = self.gru.step(&updates.reshape([b * k, d]), &hidden.reshape([b * k, d])).view([b, k, d]);
            if let Some((norm, mlp)) = &self.mlp {
                slots = &slots + mlp.forward(&norm.forward(&slots));
            }
            attention.push(attn.sum_dim_intlist(-1, false, Kind::Float).transpose(1, 2));
        }
        Grouping { slots, attention }
    }
}

/// Standard-normal float32 noise of `shape` from `seed`, independent of
/// libtorch's global generator (so streams on other threads cannot disturb it).
pub fn seeded_normal(seed: u64, shape: [i64; 3]) -> Tensor {
    use rand::{Rng, SeedableRng};
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let n = (shape[0] * shape[1] * shape[2]) as usize;
    let mut values = Vec::with_capacity(n + 1);
    while values.len() < n {
        // Box-Muller: two uniforms in (0, 1] give two independent normals.
        let u1: f64 = 1.0 - rng.random::<f64>();
        let u2: f64 = rng.random::<f64>();
        let r = (-2.0 * u1.ln()).sqrt();
        let theta = std::f64::consts::TAU * u2;
        values.push((r * theta.cos()) as f32);
        values.push((r * theta.sin()) as f32);
    }
    values.truncate(n);
    Tensor::from_slice(&values).view(shape)
}

/// Where a stream's first slots come from.
#[derive(Debug)]
pub enum SlotInit {
    /// mu + exp(log_sigma) * noise; weights init.mu, init.log_sigma [1, 1, D].
    Gaussian { mu: Tensor, log_sigma: Tensor },
    /// A learned table; weight init.queries [K, D].
    LearnedQueries { queries: Tensor },
    /// MLP(box) per slot; weights init.mlp.{0,2}.
    Conditional { mlp: Mlp },
}

/// What a stream's first slots are made from, besides the weights.
#[derive(Clone, Copy, Debug)]
pub enum InitInput<'a> {
    /// Nothing: learned queries.
    None,
    /// Standard-normal noise [B, K, D] for the Gaussian initialiser.
    Noise(&'a Tensor),
    /// A seed from which the Gaussian initialiser draws its noise
    /// (ChaCha8 + Box-Muller: the same slots on every platform).
    Seed(u64),
    /// Boxes [B, K, 4] for the conditional initialiser.
    Boxes(&'a Tensor),
}

impl SlotInit {
    pub fn new(vs: nn::Path, config: &SlotInitConfig, num_slots: i64, dim: i64) -> Self {
        let bound = (6.0 / (1 + dim) as f64).sqrt();
        let xavier = nn::Init::Uniform { lo: -bound, up: bound };
        match config {
            SlotInitConfig::Gaussian => SlotInit::Gaussian {
                mu: vs.var("mu", &[1, 1, dim], xavier),
                log_sigma: vs.var("log_sigma", &[1, 1, dim], xavier),
            },
            SlotInitConfig::LearnedQueries => {
                SlotInit::LearnedQueries { queries: vs.var("queries", &[num_slots, dim], xavier) }
            }
            SlotInitConfig::Conditional { hidden } => {
                SlotInit::Conditional { mlp: Mlp::new(&vs / "mlp", 4, *hidden, dim) }
            }
        }
    }

    /// Initial slots [B, K, D] for a batch of `batch` streams.
    pub fn slots(&self, batch: i64, num_slots: i64, input: InitInput) -> Result<Tensor> {
        let check = |t: &Tensor, last: i64, what: &str| -> Result<()> {
            if t.size() != [batch, num_slots, last] {
                return Err(Error::invalid(format!(
                    "{what} must have shape [{batch}, {num_slots}, {last}], got {:?}",
                    t.size()
                )));
            }
            Ok(())
        };
        match (self, input) {
            (SlotInit::Gaussian { mu, log_sigma }, InitInput::Seed(seed)) => {
                let noise = seeded_normal(seed, [batch, num_slots, mu.size()[2]]).to_device(mu.device());
                Ok(mu + log_sigma.exp() * noise)
            }
            (SlotInit::Gaussian { mu, log_sigma }, InitInput::Noise(noise)) => {
                check(noise, mu.size()[2], "noise")?;
                Ok(mu + log_sigma.exp() * noise)
            }
            (SlotInit::LearnedQueries { queries }, _) => {
                let (k, d) = queries.size2()?;
                Ok(queries.unsqueeze(0).expand([batch, k, d], false))
            }
            (SlotInit::Conditional { mlp }, InitInput::Boxes(boxes)) => {
                check(boxes, 4, "boxes")?;
                Ok(mlp.forward(boxes))
            }
            (SlotInit::Gaussian { .. }, _) => Err(Error::invalid("the Gaussian initialiser needs noise")),
            (SlotInit::Conditional { .. }, _) => Err(Error::invalid("the conditional initialiser needs boxes")),
        }
    }

    pub fn needs_noise(&self) -> bool {
        matches!(self, SlotInit::Gaussian { .. })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::Device;

    #[test]
    fn initialisers_check_their_input() {
        let vs = nn::VarStore::new(Device::Cpu);
        let gaussian = SlotInit::new(vs.root() / "g", &SlotInitConfig::Gaussian, 3, 8);
        let noise = Tensor::zeros([2, 3, 8], (Kind::Float, Device::Cpu));
        assert_eq!(gaussian.slots(2, 3, InitInput::Noise(&noise)).unwrap().size(), [2, 3, 8]);
        let a = gaussian.slots(2, 3, InitInput::Seed(7)).unwrap();
        let b = gaussian.slots(2, 3, InitInput::Seed(7)).unwrap();
        let c = gaussian.slots(2, 3, InitInput::Seed(8)).unwrap();
        assert!(a.equal(&b) && !a.equal(&c));
        assert!(gaussian.slots(2, 3, InitInput::None).unwrap_err().to_string().contains("needs noise"));
        let short = Tensor::zeros([2, 2, 8], (Kind::Float, Device::Cpu));
        assert!(gaussian.slots(2, 3, InitInput::Noise(&short)).unwrap_err().to_string().contains("[2, 3, 8]"));
        let conditional = SlotInit::new(vs.root() / "c", &SlotInitConfig::Conditional { hidden: 4 }, 3, 8);
        let boxes = Tensor::zeros([2, 3, 4], (Kind::Float, Device::Cpu));
        assert_eq!(conditional.slots(2, 3, InitInput::Boxes(&boxes)).unwrap().size(), [2, 3, 8]);
        assert!(conditional.slots(2, 3, InitInput::Noise(&noise)).unwrap_err().to_string().contains("needs boxes"));
        let queries = SlotInit::new(vs.root() / "q", &SlotInitConfig::LearnedQueries, 3, 8);
        assert_eq!(queries.slots(5, 3, InitInput::None).unwrap().size(), [5, 3, 8]);
    }
}

#[cfg(test)]
mod noise_tests {
    use super::seeded_normal;

    #[test]
    fn seeded_noise_is_standard_normal() {
        let t = seeded_normal(42, [4, 100, 50]);
        let mean = t.mean(tch::Kind::Float).double_value(&[]);
        let std = t.std(true).double_value(&[]);
        assert!(mean.abs() < 0.02 && (std - 1.0).abs() < 0.02, "mean {mean} std {std}");
        assert!(t.equal(&seeded_normal(42, [4, 100, 50])));
    }
}
