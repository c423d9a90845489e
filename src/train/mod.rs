//! Training: clip batches from the synthetic generator, losses and the
//! objective (shared with online fine-tuning), the LR schedule, and the
//! offline trainer behind `slotrt train`. Uses `model`.

pub mod batch;
pub mod evaluate;
pub mod losses;
pub mod objective;
pub mod schedule;
pub mod sources;
pub mod trainer;

pub use trainer::{TrainConfig, Trainer};
