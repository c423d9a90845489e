//! The `extern "C"` surface. Every export runs inside the panic boundary
//! (`boundary::guard`), checks its pointers, and reports failures as a
//! `SlotrtStatus` plus a thread-local message. `include/slotrt.h` is
//! generated from this module by cbindgen (see `cbindgen.toml`,
//! `tests/header.rs`).

mod boundary;
pub mod device;
pub mod errors;
pub mod finetune;
pub mod frames;
pub mod metrics;
pub mod model;
pub mod overlay;
pub mod scene;
pub mod session;
pub mod status;
pub mod stream;
pub mod synth;
pub mod version;

pub use status::SlotrtStatus;
