//! Memory layout of the CNN encoder's convolutions: libtorch's default
//! NCHW, or channels-last (NHWC strides on the same [B, C, H, W] shape),
//! for both the input and the weights.
//!
//! Which is faster depends on the CPU, so `auto` decides by it, on
//! measurements of the shipped encoder (`scripts/bench_layout.py`,
//! benches/README.md): on a 2-core Intel Xeon with AVX-512, channels-last
//! took 0.81 / 0.92 / 0.86 of NCHW's time at batch 1 / 8 / 32; on a 2-core
//! AMD EPYC with AVX2 only, 1.03 / 1.22 / 1.18. The two layouts agree to
//! float rounding (~1e-5), not bit for bit, so the choice is fixed per
//! machine (by CPU flags, never by a timing that could flip between runs):
//! deterministic runs stay bit-identical to each other.

use tch::{Device, Tensor};

use crate::error::{Error, Result};

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Layout {
    /// Channels-last on CPUs with AVX-512, NCHW elsewhere (and on CUDA,
    /// where it is unmeasured). Resolved at load time.
    #[default]
    Auto,
    /// libtorch's default, contiguous [B, C, H, W].
    Nchw,
    /// [B, C, H, W] with channels innermost in memory.
    ChannelsLast,
}

impl Layout {
    pub const NAMES: [&'static str; 3] = ["auto", "nchw", "channels_last"];

    pub fn name(self) -> &'static str {
        Self::NAMES[self as usize]
    }

    pub fn parse(name: &str) -> Result<Self> {
        match name {
            "auto" => Ok(Layout::Auto),
            "nchw" => Ok(Layout::Nchw),
            "channels_last" => Ok(Layout::ChannelsLast),
            other => Err(Error::invalid(format!("unknown layout {other:?}: expected one of {:?}", Self::NAMES))),
        }
    }

    /// The layout a model on `device` runs in (`Auto` decided).
    pub fn resolve(self, device: Device) -> Layout {
        match (self, device) {
            (Layout::Auto, Device::Cpu) if cpu_has_avx512() => Layout::ChannelsLast,
            (Layout::Auto, _) => Layout::Nchw,
            (layout, _) => layout,
        }
    }
}

fn cpu_has_avx512() -> bool {
    crate::device::cpu_has_flag("avx512f")
}

/// `t` [N, C, H, W] with channels-last strides (the same values).
pub fn to_channels_last(t: &Tensor) -> Tensor {
    t.permute([0, 2, 3, 1]).contiguous().permute([0, 3, 1, 2])
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::Kind;

    #[test]
    fn names_round_trip_and_auto_follows_the_cpu() {
        for name in Layout::NAMES {
            assert_eq!(Layout::parse(name).unwrap().name(), name);
        }
        assert!(Layout::parse("nhwc").is_err());
        let auto = Layout::Auto.resolve(Device::Cpu);
        assert_eq!(auto, if cpu_has_avx512() { Layout::ChannelsLast } else { Layout::Nchw });
        assert_eq!(Layout::Auto.resolve(Device::Cuda(0)), Layout::Nchw);
        assert_eq!(Layout::ChannelsLast.resolve(Device::Cuda(0)), Layout::ChannelsLast);
    }

    #[test]
    fn channels_last_keeps_shape_and_values_and_moves_channels_innermost() {
        let t = Tensor::rand([2, 5, 3, 4], (Kind::Float, Device::Cpu));
        let cl = to_channels_last(&t);
        assert_eq!(cl.size(), t.size());
        assert_eq!(cl.stride(), [60, 1, 20, 5]);
        assert!(cl.equal(&t));
    }
}
