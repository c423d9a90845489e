//! Online fine-tuning for C callers: enable on a session, pause, resume,
//! stop, read stats and revert. Frames with instance masks (guided
//! fine-tuning) are pushed with slotrt_stream_push_with_masks.

use super::boundary::{arg_mut, arg_ref, check_struct_size, guard, unknown_enum};
use super::enums::{device_from_c, device_to_c, PartBit, SlotrtPart};
use super::session::SlotrtSession;
use super::status::SlotrtStatus;
use crate::runtime::{FinetuneOptions, FinetuneStats, TrainParts};
use crate::train::losses::LossWeights;

#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct SlotrtFinetuneOptions {
    /// sizeof(slotrt_finetune_options); set by slotrt_finetune_options_init.
    pub struct_size: u32,
    /// Where training runs (slotrt_device_type + CUDA index); may differ
    /// from the device inference runs on.
    pub device_type: u32,
    pub device_index: u32,
    /// Adam learning rate (default 1e-4) after a linear warm-up.
    pub lr: f32,
    pub warmup_steps: u32,
    /// One optimiser step per this many stepped frames (default 1), and at
    /// most max_steps_per_second steps per second (0: no cap).
    pub frames_per_step: u32,
    pub max_steps_per_second: f32,
    /// Frames remembered (default 2048) and the probability that a sampled
    /// clip comes from each stream's newest quarter (default 0.5).
    pub replay_capacity: u32,
    pub recent_bias: f32,
    /// Clips per step (default 8) and frames per clip (default 3).
    pub batch_clips: u32,
    pub clip_frames: u32,
    /// Bit set of slotrt_part values that train (default: all).
    pub train_parts: u32,
    /// Loss weights: reconstruction (default 1), DIAS self-distillation
    /// (0) with its ramp, CODA contrastive lambda (0), guided masks (0).
    /// Each finite and >= 0, at least one > 0 (else INVALID_ARGUMENT).
    /// Guided with reconstruction 0, on a model whose masks are its
    /// attention masks, never runs the decoder: several times the steps;
    /// steps then wait for frames pushed with masks.
    pub reconstruction: f32,
    pub self_distillation: f32,
    pub self_distillation_ramp_steps: u32,
    pub contrastive: f32,
    pub guided: f32,
    /// Gradient clipping norm (default 1); publish every N steps (10); a
    /// loss above explode_factor x its running mean rolls back (10).
    pub grad_clip: f32,
    pub publish_every: u32,
    pub explode_factor: f32,
    pub seed: u64,
    /// Serve an exponential moving average of the trained weights with
    /// this decay per step (default 0: the trained weights as they are;
    /// 0.95-0.99 smooths out the noise of online steps). In [0, 1).
    pub ema_decay: f32,
    /// After warm-up, cosine decay of the learning rate from `lr` to
    /// `lr * min_lr_ratio` over decay_steps steps, then constant (default
    /// 0: constant lr). min_lr_ratio in [0, 1] (default 0.1).
    pub decay_steps: u32,
    pub min_lr_ratio: f32,
}

#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct SlotrtFinetuneStats {
    /// Set to sizeof(slotrt_finetune_stats) before the call.
    pub struct_size: u32,
    /// False once the trainer stopped (stop, or an error: `failed`).
    pub running: bool,
    pub paused: bool,
    pub failed: bool,
    pub steps: u64,
    pub samples: u64,
    pub publishes: u64,
    pub rollbacks: u64,
    pub replay_frames: u64,
    pub frames_seen: u64,
    /// Last total loss, its running mean, and the terms: reconstruction,
    /// self-distillation, contrastive, guided.
    pub loss: f64,
    pub loss_mean: f64,
    pub terms: [f64; 4],
}

fn stats_to_c(s: &FinetuneStats, struct_size: u32) -> SlotrtFinetuneStats {
    SlotrtFinetuneStats {
        struct_size,
        running: s.running,
        paused: s.paused,
        failed: s.error.is_some(),
        steps: s.steps,
        samples: s.samples,
        publishes: s.publishes,
        rollbacks: s.rollbacks,
        replay_frames: s.replay_frames,
        frames_seen: s.frames_seen,
        loss: s.loss,
        loss_mean: s.loss_mean,
        terms: s.terms,
    }
}

/// Fills `options` with the defaults.
///
/// # Safety
/// `options` points to a writable slotrt_finetune_options.
#[no_mangle]
pub unsafe extern "C" fn slotrt_finetune_options_init(options: *mut SlotrtFinetuneOptions) -> SlotrtStatus {
    guard("slotrt_finetune_options_init", || {
        let out = unsafe { arg_mut(options, "options") }?;
        let d = FinetuneOptions::default();
        let (device_type, device_index) = device_to_c(d.device);
        *out = SlotrtFinetuneOptions {
            struct_size: size_of::<SlotrtFinetuneOptions>() as u32,
            device_type,
            device_index,
            lr: d.lr as f32,
            warmup_steps: d.warmup_steps as u32,
            frames_per_step: d.frames_per_step as u32,
            max_steps_per_second: d.max_steps_per_second as f32,
            replay_capacity: d.replay_capacity as u32,
            recent_bias: d.recent_bias as f32,
            batch_clips: d.batch_clips as u32,
            clip_frames: d.clip_frames as u32,
            // Every part (the default trains them all).
            train_parts: (1u32 << SlotrtPart::ALL.len()) - 1,
            reconstruction: d.losses.reconstruction as f32,
            self_distillation: d.losses.self_distillation as f32,
            self_distillation_ramp_steps: d.losses.self_distillation_ramp_steps as u32,
            contrastive: d.losses.contrastive as f32,
            guided: d.losses.guided as f32,
            grad_clip: d.grad_clip as f32,
            publish_every: d.publish_every as u32,
            explode_factor: d.explode_factor as f32,
            seed: d.seed,
            ema_decay: d.ema_decay as f32,
            decay_steps: d.decay_steps as u32,
            min_lr_ratio: d.min_lr_ratio as f32,
        };
        Ok(())
    })
}

/// Starts fine-tuning on the frames this session steps (push, process and
/// step alike): a trainer thread samples them from a replay, trains its own
/// copy of the weights and publishes to inference every `publish_every`
/// steps; inference never waits longer than a pointer swap, and carried
/// slots stay valid across a publish. Twice gives
/// SLOTRT_STATUS_INVALID_ARGUMENT; a model with nothing trainable in the
/// chosen parts, or a conditional model, SLOTRT_STATUS_UNSUPPORTED.
///
/// # Safety
/// `session` is live; `options` is NULL (defaults) or initialised.
#[no_mangle]
pub unsafe extern "C" fn slotrt_session_finetune_enable(
    session: *const SlotrtSession,
    options: *const SlotrtFinetuneOptions,
) -> SlotrtStatus {
    guard("slotrt_session_finetune_enable", || {
        let s = unsafe { arg_ref(session, "session") }?;
        let mut opts = FinetuneOptions::default();
        if let Some(o) = unsafe { options.as_ref() } {
            check_struct_size(o.struct_size, size_of::<SlotrtFinetuneOptions>(), "options")?;
            let known = (1u32 << SlotrtPart::ALL.len()) - 1;
            if o.train_parts & !known != 0 {
                return Err(unknown_enum(
                    "options->train_parts",
                    format!("{:#x}", o.train_parts),
                    "bit set of slotrt_part",
                ));
            }
            let bit = |p: PartBit| o.train_parts & (1 << SlotrtPart::raw(p)) != 0;
            opts = FinetuneOptions {
                device: device_from_c(o.device_type, o.device_index, "options->device_type")?,
                lr: o.lr as f64,
                warmup_steps: o.warmup_steps as u64,
                frames_per_step: o.frames_per_step as u64,
                max_steps_per_second: o.max_steps_per_second as f64,
                replay_capacity: o.replay_capacity as usize,
                recent_bias: o.recent_bias as f64,
                batch_clips: o.batch_clips as usize,
                clip_frames: o.clip_frames as usize,
                parts: TrainParts {
                    encoder: bit(PartBit::Encoder),
                    grouping: bit(PartBit::Grouping),
                    predictor: bit(PartBit::Predictor),
                    decoder: bit(PartBit::Decoder),
                },
                losses: LossWeights {
                    reconstruction: o.reconstruction as f64,
                    self_distillation: o.self_distillation as f64,
                    self_distillation_ramp_steps: o.self_distillation_ramp_steps as u64,
                    contrastive: o.contrastive as f64,
                    guided: o.guided as f64,
                },
                grad_clip: o.grad_clip as f64,
                publish_every: o.publish_every as u64,
                explode_factor: o.explode_factor as f64,
                seed: o.seed,
                ema_decay: o.ema_decay as f64,
                decay_steps: o.decay_steps as u64,
                min_lr_ratio: o.min_lr_ratio as f64,
            };
        }
        s.session.enable_finetune(opts)?;
        Ok(())
    })
}

/// Pauses (`paused` true) or resumes fine-tuning; inference goes on.
///
/// # Safety
/// `session` is live.
#[no_mangle]
pub unsafe extern "C" fn slotrt_session_finetune_pause(session: *const SlotrtSession, paused: bool) -> SlotrtStatus {
    guard("slotrt_session_finetune_pause", || {
        let s = unsafe { arg_ref(session, "session") }?;
        if paused {
            s.session.pause_finetune()?;
        } else {
            s.session.resume_finetune()?;
        }
        Ok(())
    })
}

/// Stops fine-tuning after the trainer's current step (a publish in flight
/// completes first; the call waits for it). The last published weights
/// keep serving. `out_stats` (may be NULL, else struct_size set) gets the
/// final stats.
///
/// # Safety
/// `session` is live; `out_stats` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn slotrt_session_finetune_stop(
    session: *const SlotrtSession,
    out_stats: *mut SlotrtFinetuneStats,
) -> SlotrtStatus {
    guard("slotrt_session_finetune_stop", || {
        let s = unsafe { arg_ref(session, "session") }?;
        if let Some(out) = unsafe { out_stats.as_ref() } {
            check_struct_size(out.struct_size, size_of::<SlotrtFinetuneStats>(), "out_stats")?;
        }
        let stats = s.session.stop_finetune()?;
        if let Some(out) = unsafe { out_stats.as_mut() } {
            *out = stats_to_c(&stats, out.struct_size);
        }
        Ok(())
    })
}

/// The trainer's counters and losses.
///
/// # Safety
/// `session` is live; `out` is writable with struct_size set.
#[no_mangle]
pub unsafe extern "C" fn slotrt_session_finetune_stats(
    session: *const SlotrtSession,
    out: *mut SlotrtFinetuneStats,
) -> SlotrtStatus {
    guard("slotrt_session_finetune_stats", || {
        let s = unsafe { arg_ref(session, "session") }?;
        let out = unsafe { arg_mut(out, "out") }?;
        check_struct_size(out.struct_size, size_of::<SlotrtFinetuneStats>(), "out")?;
        let stats = s.session.finetune_stats()?;
        *out = stats_to_c(&stats, out.struct_size);
        Ok(())
    })
}

/// Serves the weights as loaded again; a running trainer restarts from them.
///
/// # Safety
/// `session` is live.
#[no_mangle]
pub unsafe extern "C" fn slotrt_session_finetune_revert(session: *const SlotrtSession) -> SlotrtStatus {
    guard("slotrt_session_finetune_revert", || {
        unsafe { arg_ref(session, "session") }?.session.revert_finetune();
        Ok(())
    })
}
