//! Device queries.

use super::boundary::guard_value;

/// True when this build links libtorch_cuda and a CUDA device is usable.
/// Thread-safe.
#[no_mangle]
pub extern "C" fn slotrt_cuda_available() -> bool {
    guard_value("slotrt_cuda_available", false, crate::device::cuda_available)
}

/// Number of usable CUDA devices; 0 on CPU-only machines. Thread-safe.
#[no_mangle]
pub extern "C" fn slotrt_cuda_device_count() -> u32 {
    guard_value("slotrt_cuda_device_count", 0, || crate::device::cuda_device_count().try_into().unwrap_or(u32::MAX))
}

/// True when the library was linked against libtorch_cuda at build time, so
/// that CUDA is used wherever a GPU and driver exist.
#[no_mangle]
pub extern "C" fn slotrt_built_with_cuda() -> bool {
    guard_value("slotrt_built_with_cuda", false, crate::device::built_with_cuda)
}
