//! The `extern "C"` surface. Every export runs inside the panic boundary
//! (`boundary::guard`), checks its pointers, and reports failures as a
//! `SlotrtStatus` plus a thread-local message. `include/slotrt.h` is
//! generated from this module by cbindgen (see `cbindgen.toml`,
//! `tests/header.rs`); its functions follow the order of the modules below,
//! which is the order a reader meets them in.

mod boundary;

// Version and ABI check, statuses and the last error, C enums.
pub mod version;

pub mod errors;
pub mod status;

pub mod enums;

// The runtime: devices, models, sessions, streams, frames and results,
// online fine-tuning. (Blank lines keep rustfmt from sorting the groups.)
pub mod device;
pub mod model;
pub mod session;
pub mod stream;
pub mod stream_episodes;

pub mod frames;

pub mod finetune;

// Around the runtime: synthetic clips and scenes, scores, overlays.
pub mod synth;

pub mod scene;

pub mod metrics;
pub mod overlay;

#[cfg(test)]
mod enum_tests;
#[cfg(test)]
mod failure_paths;

pub use status::SlotrtStatus;
