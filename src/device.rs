//! Which compute devices this build of libtorch can use, and what the CPU
//! offers (flags that pick precision and layout).

use crate::error::{Error, Result};

/// True when libtorch_cuda is linked and a CUDA device is usable.
pub fn cuda_available() -> bool {
    tch::Cuda::is_available()
}

/// Number of usable CUDA devices (0 on a CPU-only machine).
pub fn cuda_device_count() -> usize {
    if cuda_available() {
        tch::Cuda::device_count().max(0) as usize
    } else {
        0
    }
}

/// Whether the CPU reports `flag` (as /proc/cpuinfo spells it, e.g.
/// "avx512f", "amx_bf16"); false where that file cannot be read.
pub fn cpu_has_flag(flag: &str) -> bool {
    let info = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    info.lines()
        .find(|l| l.starts_with("flags"))
        .and_then(|l| l.split_once(':'))
        .is_some_and(|(_, flags)| flags.split_whitespace().any(|f| f == flag))
}

/// Whether this binary was linked against libtorch_cuda at build time
/// (see build.rs). A CUDA-linked build still runs on CPU-only machines.
pub fn built_with_cuda() -> bool {
    cfg!(slotrt_linked_cuda)
}

/// Parses "cpu", "cuda" (device 0) or "cuda:N" into a tch device, checking
/// that a CUDA device exists.
pub fn parse_device(name: &str) -> Result<tch::Device> {
    let name = name.trim();
    if name.eq_ignore_ascii_case("cpu") {
        return Ok(tch::Device::Cpu);
    }
    let index = match name.strip_prefix("cuda") {
        Some("") => 0,
        Some(rest) => rest
            .strip_prefix(':')
            .and_then(|n| n.parse::<usize>().ok())
            .ok_or_else(|| Error::invalid(format!("device '{name}': expected cpu, cuda or cuda:N")))?,
        None => return Err(Error::invalid(format!("device '{name}': expected cpu, cuda or cuda:N"))),
    };
    let count = cuda_device_count();
    if index >= count {
        return Err(Error::DeviceUnavailable(format!(
            "device '{name}' requested but {count} CUDA device(s) are available"
        )));
    }
    Ok(tch::Device::Cuda(index))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_device_names() {
        assert_eq!(parse_device("cpu").unwrap(), tch::Device::Cpu);
        assert_eq!(parse_device(" CPU ").unwrap(), tch::Device::Cpu);
        assert!(matches!(parse_device("gpu"), Err(Error::InvalidArgument(_))));
        assert!(matches!(parse_device("cuda:x"), Err(Error::InvalidArgument(_))));
        if !cuda_available() {
            assert!(matches!(parse_device("cuda:0"), Err(Error::DeviceUnavailable(_))));
        }
    }

    #[test]
    fn device_count_agrees_with_availability() {
        assert_eq!(cuda_available(), cuda_device_count() > 0);
    }
}
