//! Slot models: config, encoders, grouping (Slot Attention and variants),
//! predictor, decoders and the bundle format. Uses tch only.
//!
//! Filled in by the model-family work; the layer exists now so that the
//! import rules of `docs/ARCHITECTURE.md` hold from the first commit.
