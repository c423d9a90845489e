//! Session options: batching, queueing, overflow, determinism, outputs.

use std::time::Duration;

use crate::error::{Error, Result};
use crate::model::config::{MaskKind, ModelConfig};
use crate::model::refine::{GuidedFilter, RefineConfig};

/// What `push` does when a stream's frame queue is full.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OverflowPolicy {
    /// Drop the oldest queued frame (counted in the stream's stats): the
    /// producer never waits, results stay as fresh as possible.
    KeepLatest,
    /// Wait until the worker makes room: nothing is ever dropped.
    Block,
}

/// Which masks results carry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MaskSource {
    /// The masks the model segments with (its config's `masks`: what it was
    /// trained and scored on).
    Model,
    /// The decoder's alpha masks (what the model explains the frame with).
    Decoder,
    /// Slot Attention's last-iteration attention over the token grid
    /// (cheaper: the decoder does not run).
    Attention,
}

impl MaskSource {
    /// The concrete masks for a model that segments with `own`.
    pub fn resolve(self, own: MaskKind) -> MaskKind {
        match self {
            MaskSource::Model => own,
            MaskSource::Decoder => MaskKind::Decoder,
            MaskSource::Attention => MaskKind::Attention,
        }
    }
}

/// How served masks are brought to the input's resolution.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum MaskRefinement {
    /// As the model's config says (`refine`); none when it has none.
    Model,
    /// None: masks stay at their native resolution (the token grid or the
    /// decoder's), label maps are upsampled bilinearly.
    Off,
    /// Colour guided filter at the input's resolution (`model::refine`):
    /// the model's parameters when its config has them, else
    /// `GuidedFilter::for_input`.
    GuidedFilter,
    /// A guided filter with these parameters (validated at session
    /// creation against the model's input size).
    Custom(GuidedFilter),
}

impl MaskRefinement {
    /// The concrete filter for `config`, if any.
    pub fn resolve(self, config: &ModelConfig) -> Option<GuidedFilter> {
        let own = config.refine.map(|RefineConfig::GuidedFilter(f)| f);
        match self {
            MaskRefinement::Model => own,
            MaskRefinement::Off => None,
            MaskRefinement::GuidedFilter => {
                Some(own.unwrap_or_else(|| GuidedFilter::for_input(config.preprocess.height, config.preprocess.width)))
            }
            MaskRefinement::Custom(filter) => Some(filter),
        }
    }
}

#[derive(Clone, Debug)]
pub struct SessionOptions {
    /// Most frames (one per stream) stepped in one forward pass, 1..=1024.
    pub max_batch: usize,
    /// How long the worker waits after the first ready frame for other
    /// streams' frames to fill a batch.
    pub max_wait: Duration,
    /// Frames queued per stream, and results held per stream, 1..=1024.
    pub queue_depth: usize,
    pub overflow: OverflowPolicy,
    /// Bit-identical results on every run: slot noise comes from `seed`,
    /// and the worker steps one frame at a time (batch composition would
    /// otherwise depend on timing).
    pub deterministic: bool,
    /// Seed for first-frame slot noise (deterministic mode; otherwise the
    /// session draws one).
    pub seed: u64,
    /// Run the model once on create so the first frame is not slow.
    pub warmup: bool,
    pub mask_source: MaskSource,
    /// Refined masks come at the model's input size (`mask_size`).
    pub mask_refinement: MaskRefinement,
    /// Also produce a hard label map (argmax slot per pixel) at each
    /// frame's own resolution.
    pub label_maps: bool,
}

impl Default for SessionOptions {
    fn default() -> Self {
        SessionOptions {
            max_batch: 8,
            max_wait: Duration::from_millis(2),
            queue_depth: 4,
            overflow: OverflowPolicy::KeepLatest,
            deterministic: false,
            seed: 0,
            warmup: true,
            mask_source: MaskSource::Model,
            mask_refinement: MaskRefinement::Model,
            label_maps: false,
        }
    }
}

/// Upper bound for `max_batch` and `queue_depth`.
pub const MAX_BATCH: usize = 1024;
/// Upper bound for `max_wait`: batching is for latency, not for minutes.
pub const MAX_WAIT: Duration = Duration::from_secs(1);

impl SessionOptions {
    pub fn validate(&self) -> Result<()> {
        if !(1..=MAX_BATCH).contains(&self.max_batch) {
            return Err(Error::invalid(format!("max_batch is {}, must be in 1..={MAX_BATCH}", self.max_batch)));
        }
        if !(1..=MAX_BATCH).contains(&self.queue_depth) {
            return Err(Error::invalid(format!("queue_depth is {}, must be in 1..={MAX_BATCH}", self.queue_depth)));
        }
        if self.max_wait > MAX_WAIT {
            return Err(Error::invalid(format!("max_wait is {:?}, must be at most {MAX_WAIT:?}", self.max_wait)));
        }
        Ok(())
    }
}
