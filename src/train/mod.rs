//! Training: clip batches from the synthetic generator, losses, the LR
//! schedule, and the offline trainer behind `slotrt train`. Uses `model`.
//! The online fine-tuner (issue 6) will reuse the same step.

pub mod batch;
pub mod evaluate;
pub mod losses;
pub mod schedule;
pub mod trainer;

pub use trainer::{TrainConfig, Trainer};
