//! Reduced-precision inference. The CNN encoder's convolutions hold their
//! weights in bf16 or fp16 and run on inputs cast to it; everything else
//! (position embeddings, LayerNorm, Slot Attention's softmax and GRU, the
//! predictor, the decoder) stays fp32, and so do carried slots. The split is
//! fixed at load time instead of decided per op. The decoder stays fp32
//! because its masks are an argmax over slots of alpha logits: with even one
//! of its transposed convolutions in bf16, held-out FG-ARI moved by 0.012 to
//! 0.017, over the 0.01 the accuracy guard allows (`tests/precision.rs`);
//! with the encoder alone in bf16 it stays within it.

use tch::{Device, Kind};

use crate::error::{Error, Result};

/// Numeric precision of a loaded model's encoder convolutions.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Precision {
    /// Exact: every op in fp32 (the default).
    #[default]
    Fp32,
    /// Convolutions in bfloat16.
    Bf16,
    /// Convolutions in float16 (CUDA only).
    Fp16,
    /// bf16 where the hardware makes it pay (a CUDA device, or a CPU with
    /// AMX-BF16), fp32 elsewhere. Resolved at load time.
    Auto,
}

impl Precision {
    pub const NAMES: [&'static str; 4] = ["fp32", "bf16", "fp16", "auto"];

    pub fn name(self) -> &'static str {
        Self::NAMES[self as usize]
    }

    pub fn parse(name: &str) -> Result<Self> {
        match name {
            "fp32" => Ok(Precision::Fp32),
            "bf16" => Ok(Precision::Bf16),
            "fp16" => Ok(Precision::Fp16),
            "auto" => Ok(Precision::Auto),
            other => Err(Error::invalid(format!("unknown precision {other:?}: expected one of {:?}", Self::NAMES))),
        }
    }

    /// The precision a model loaded on `device` runs in: `Auto` decided
    /// (bf16 on CUDA or with AMX, else fp32), fp16 refused on the CPU
    /// (libtorch's CPU fp16 convolutions are reference loops, slower than
    /// fp32).
    pub fn resolve(self, device: Device) -> Result<Precision> {
        match (self, device) {
            (Precision::Auto, Device::Cuda(_)) => Ok(Precision::Bf16),
            (Precision::Auto, _) if cpu_has_amx_bf16() => Ok(Precision::Bf16),
            (Precision::Auto, _) => Ok(Precision::Fp32),
            (Precision::Fp16, Device::Cpu) => {
                Err(Error::Unsupported("fp16 runs on CUDA only; use bf16 or fp32 on the CPU".into()))
            }
            (p, _) => Ok(p),
        }
    }

    /// The tensor kind the encoder convolutions compute in.
    pub fn kind(self) -> Kind {
        match self {
            Precision::Bf16 => Kind::BFloat16,
            Precision::Fp16 => Kind::Half,
            Precision::Fp32 | Precision::Auto => Kind::Float,
        }
    }
}

/// Whether this CPU has AMX tiles for bf16, the CPU feature bf16 needs to
/// pay here. AVX512-BF16 alone does not: on a 2-core Xeon with it (and no
/// AMX), oneDNN's native bf16 kernels ran the shipped encoder's conv stack
/// in 10.3 ms against fp32's 7.6 (batch 8), and a whole served frame took
/// 5.3 ms against 3.1 (benches/README.md, `scripts/bench_bf16_kernels.py`).
pub fn cpu_has_amx_bf16() -> bool {
    crate::device::cpu_has_flag("amx_bf16")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_unknown_names_are_refused() {
        for name in Precision::NAMES {
            assert_eq!(Precision::parse(name).unwrap().name(), name);
        }
        assert!(Precision::parse("int8").is_err());
    }

    #[test]
    fn auto_follows_the_hardware_and_fp16_needs_cuda() {
        let auto = Precision::Auto.resolve(Device::Cpu).unwrap();
        assert_eq!(auto, if cpu_has_amx_bf16() { Precision::Bf16 } else { Precision::Fp32 });
        assert_eq!(Precision::Auto.resolve(Device::Cuda(0)).unwrap(), Precision::Bf16);
        assert!(matches!(Precision::Fp16.resolve(Device::Cpu), Err(Error::Unsupported(_))));
        assert_eq!(Precision::Bf16.resolve(Device::Cpu).unwrap(), Precision::Bf16);
    }
}
