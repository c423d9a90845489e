//! What online fine-tuning is told (options, which parts train) and what
//! it reports (stats).

use tch::Device;

use crate::error::{Error, Result};
use crate::train::losses::LossWeights;
use crate::train::schedule::LrSchedule;

/// Which parts of the model train (a frozen backbone never does).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TrainParts {
    pub encoder: bool,
    pub grouping: bool,
    pub predictor: bool,
    pub decoder: bool,
}

#[derive(Clone, Debug)]
pub struct FinetuneOptions {
    /// Where the training copy lives; may differ from the inference device.
    pub device: Device,
    pub lr: f64,
    /// Linear warm-up steps from 0 to `lr`.
    pub warmup_steps: u64,
    /// After warm-up, cosine decay from `lr` to `lr * min_lr_ratio` over
    /// this many steps, then constant (0: constant `lr` throughout). For a
    /// fine-tuning run of known length, decaying lets the weights settle
    /// instead of ending wherever the last noisy step left them.
    pub decay_steps: u64,
    pub min_lr_ratio: f64,
    /// One optimiser step per this many frames stepped by the session
    /// (>= 1), and at most `max_steps_per_second` steps per second (0: no
    /// cap). Together they bound the trainer's share of the machine.
    pub frames_per_step: u64,
    pub max_steps_per_second: f64,
    /// Frames remembered (oldest evicted first).
    pub replay_capacity: usize,
    /// Probability that a sampled clip starts among each stream's newest
    /// quarter of frames.
    pub recent_bias: f64,
    /// Clips per optimiser step and frames per clip.
    pub batch_clips: usize,
    pub clip_frames: usize,
    pub parts: TrainParts,
    pub losses: LossWeights,
    pub grad_clip: f64,
    /// Publish to inference every this many steps.
    pub publish_every: u64,
    /// Serve an exponential moving average of the trained weights (this
    /// decay per step; 0 = serve the trained weights as they are). Online
    /// steps on a small replay are noisy; the average is not.
    pub ema_decay: f64,
    /// A loss above this multiple of its running mean is an explosion.
    pub explode_factor: f64,
    pub seed: u64,
}

impl Default for FinetuneOptions {
    fn default() -> Self {
        FinetuneOptions {
            device: Device::Cpu,
            lr: 1e-4,
            warmup_steps: 20,
            decay_steps: 0,
            min_lr_ratio: 0.1,
            frames_per_step: 1,
            max_steps_per_second: 0.0,
            replay_capacity: 2048,
            recent_bias: 0.5,
            batch_clips: 8,
            clip_frames: 3,
            parts: TrainParts { encoder: true, grouping: true, predictor: true, decoder: true },
            losses: LossWeights::default(),
            grad_clip: 1.0,
            publish_every: 10,
            ema_decay: 0.0,
            explode_factor: 10.0,
            seed: 0,
        }
    }
}

impl FinetuneOptions {
    pub fn validate(&self) -> Result<()> {
        let bad = |m: String| Err(Error::invalid(m));
        self.losses.validate()?;
        if !(self.lr > 0.0 && self.lr < 1.0) {
            return bad(format!("lr is {}, must be in (0, 1)", self.lr));
        }
        if self.frames_per_step == 0 || self.publish_every == 0 {
            return bad("frames_per_step and publish_every must be at least 1".into());
        }
        if !(self.max_steps_per_second >= 0.0) {
            return bad(format!("max_steps_per_second is {}", self.max_steps_per_second));
        }
        if self.batch_clips < 1 || self.clip_frames < 1 || self.replay_capacity < self.clip_frames {
            return bad("batch_clips and clip_frames must be >= 1, replay_capacity >= clip_frames".into());
        }
        if self.losses.contrastive > 0.0 && self.batch_clips < 2 {
            return bad("the contrastive term needs batch_clips >= 2".into());
        }
        if !(0.0..=1.0).contains(&self.min_lr_ratio) {
            return bad(format!("min_lr_ratio is {}, must be in [0, 1]", self.min_lr_ratio));
        }
        if !(0.0..1.0).contains(&self.ema_decay) {
            return bad(format!("ema_decay is {}, must be in [0, 1)", self.ema_decay));
        }
        if !(self.explode_factor > 1.0) || !(self.grad_clip > 0.0) || !(0.0..=1.0).contains(&self.recent_bias) {
            return bad("explode_factor must be > 1, grad_clip > 0, recent_bias in [0, 1]".into());
        }
        Ok(())
    }
}

impl FinetuneOptions {
    /// The learning rate of optimiser step `step` (counted from 0).
    pub fn lr_at(&self, step: u64) -> f64 {
        let schedule = LrSchedule {
            peak: self.lr,
            warmup_steps: self.warmup_steps.max(1),
            total_steps: self.warmup_steps.max(1) + self.decay_steps,
            floor_ratio: if self.decay_steps == 0 { 1.0 } else { self.min_lr_ratio },
        };
        schedule.at(step)
    }
}

/// What the trainer has done so far.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FinetuneStats {
    pub running: bool,
    pub paused: bool,
    pub steps: u64,
    /// Frames used in optimiser steps (clips x frames per clip, summed).
    pub samples: u64,
    pub publishes: u64,
    pub rollbacks: u64,
    /// Frames in the replay now, and ever added.
    pub replay_frames: u64,
    pub frames_seen: u64,
    /// Last step's total loss, its running mean, and its terms
    /// (reconstruction, self-distillation, contrastive, guided).
    pub loss: f64,
    pub loss_mean: f64,
    pub terms: [f64; 4],
    /// Why the last rollback happened, and the error that stopped the
    /// trainer, if any.
    pub last_rollback: Option<String>,
    pub error: Option<String>,
}
