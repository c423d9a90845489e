//! slotrt: an embeddable runtime for object-centric slot models.
//!
//! Layers (see `docs/ARCHITECTURE.md`), each importing only those below it:
//! `data` and `metrics` (self-contained) -> `model` -> `train` -> `runtime`
//! -> `capi` (the `extern "C"` surface, header in `include/slotrt.h`).

pub mod capi;
pub mod data;
pub mod device;
pub mod error;
pub mod metrics;
pub mod model;
pub mod runtime;
pub mod train;

pub use error::{Error, Result};

/// Crate version, as in Cargo.toml.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
