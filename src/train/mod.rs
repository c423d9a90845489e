//! Losses, the offline trainer, the online fine-tuner and its replay ring.
//! Uses `model`. Filled in by the training work.
