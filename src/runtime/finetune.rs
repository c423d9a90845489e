//! Online fine-tuning while serving: a trainer thread samples recent frames
//! from the session's replay, runs optimiser steps on its own copy of the
//! weights (on CPU or a GPU), and publishes new weights to the inference
//! worker by swapping the session's model pointer. A loss that turns
//! non-finite or explodes rolls back to the last good weights.

use std::path::Path;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tch::nn::OptimizerConfig;
use tch::{Device, Tensor};

use super::model::{InitKind, RuntimeModel};
use super::replay::ReplayFrame;
use super::session::Shared;
use crate::error::{Error, Result};
use crate::model::grouping::InitInput;
use crate::model::{bundle, SlotModel};
use crate::train::losses::LossWeights;
use crate::train::objective::Objective;
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

#[derive(Default)]
struct ControlState {
    paused: bool,
    stop: bool,
    revert: bool,
    stats: FinetuneStats,
}

/// Shared between the session and its trainer thread.
pub(crate) struct Control {
    state: Mutex<ControlState>,
    wake: Condvar,
}

pub(crate) struct Finetuner {
    control: Arc<Control>,
    thread: Option<JoinHandle<()>>,
}

impl Finetuner {
    pub fn start(shared: Arc<Shared>, options: FinetuneOptions) -> Result<Finetuner> {
        options.validate()?;
        let loaded = shared.model.clone();
        if loaded.info().init == InitKind::Conditional {
            return Err(Error::Unsupported("online fine-tuning of conditional (box-seeded) models".into()));
        }
        if let Device::Cuda(i) = options.device {
            let n = crate::device::cuda_device_count();
            if i >= n {
                return Err(Error::DeviceUnavailable(format!("cuda:{i} for training, {n} CUDA devices available")));
            }
        }
        let train = TrainCopy::new(&loaded, &options)?;
        let control = Arc::new(Control {
            state: Mutex::new(ControlState {
                stats: FinetuneStats { running: true, ..FinetuneStats::default() },
                ..ControlState::default()
            }),
            wake: Condvar::new(),
        });
        shared.enable_replay(options.replay_capacity);
        let for_thread = Arc::clone(&control);
        let thread = std::thread::Builder::new()
            .name("slotrt-finetune".into())
            .spawn(move || {
                let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    trainer_loop(&shared, &for_thread, &options, train)
                }));
                let error = match outcome {
                    Ok(Ok(())) => None,
                    Ok(Err(e)) => Some(e.to_string()),
                    Err(_) => Some("the trainer panicked".to_string()),
                };
                let mut st = for_thread.state.lock();
                st.stats.running = false;
                st.stats.error = error;
            })
            .map_err(|e| Error::Internal(format!("cannot start the trainer thread: {e}")))?;
        Ok(Finetuner { control, thread: Some(thread) })
    }

    pub fn set_paused(&self, paused: bool) {
        self.control.state.lock().paused = paused;
        self.control.wake.notify_all();
    }

    pub fn request_revert(&self) {
        self.control.state.lock().revert = true;
        self.control.wake.notify_all();
    }

    pub fn stats(&self) -> FinetuneStats {
        let st = self.control.state.lock();
        // `paused` is the control flag itself: it holds from the call on.
        FinetuneStats { paused: st.paused, ..st.stats.clone() }
    }

    /// New frames arrived: the trainer may have work.
    pub fn notify(&self) {
        self.control.wake.notify_all();
    }

    /// Stops the trainer after its current step (and publish) and waits.
    pub fn stop(&mut self) {
        self.control.state.lock().stop = true;
        self.control.wake.notify_all();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Finetuner {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The trainer's own copy of the weights, the last good ones, their moving
/// average (when served), and the objective.
struct TrainCopy {
    model: SlotModel,
    good: SlotModel,
    average: Option<Average>,
    objective: Objective,
}

/// An exponential moving average of the trained weights.
struct Average {
    model: SlotModel,
    /// (average, trained) variable pairs, matched by name once.
    pairs: Vec<(Tensor, Tensor)>,
    decay: f64,
}

impl Average {
    fn new(trained: &SlotModel, base: Option<&Path>, decay: f64) -> Result<Self> {
        let mut model = SlotModel::with_base_dir(&trained.config, trained.device(), base)?;
        tch::no_grad(|| model.vs.copy(&trained.vs))?;
        model.vs.freeze();
        let mine = model.vs.variables();
        let pairs = trained
            .vs
            .variables()
            .into_iter()
            .filter_map(|(name, t)| Some((mine.get(&name)?.shallow_clone(), t)))
            .collect();
        Ok(Average { model, pairs, decay })
    }

    /// Folds the trained weights in.
    fn absorb(&mut self) {
        tch::no_grad(|| {
            for (average, trained) in &mut self.pairs {
                let _ = average.lerp_(&trained.detach(), 1.0 - self.decay);
            }
        });
    }

    /// Starts over from `from`.
    fn reset(&mut self, from: &SlotModel) -> Result<()> {
        tch::no_grad(|| self.model.vs.copy(&from.vs))?;
        Ok(())
    }
}

impl TrainCopy {
    fn new(loaded: &RuntimeModel, options: &FinetuneOptions) -> Result<Self> {
        let config = loaded.config();
        let base = loaded.base_dir();
        let mut model = SlotModel::with_base_dir(config, options.device, base)?;
        let mut good = SlotModel::with_base_dir(config, options.device, base)?;
        tch::no_grad(|| -> Result<()> {
            model.vs.copy(&loaded.slot_model().vs)?;
            good.vs.copy(&loaded.slot_model().vs)?;
            Ok(())
        })?;
        good.vs.freeze();
        let mut trainable = 0;
        for (name, var) in model.vs.variables() {
            let part = name.split('.').next().unwrap_or("");
            let on = match part {
                "encoder" => options.parts.encoder,
                "grouping" | "init" => options.parts.grouping,
                "predictor" => options.parts.predictor,
                "decoder" => options.parts.decoder,
                _ => false,
            };
            // Frozen backbones were created without gradients: keep them so.
            let on = on && var.requires_grad();
            if on {
                trainable += var.numel();
            }
            let _ = var.set_requires_grad(on);
        }
        if trainable == 0 {
            return Err(Error::Unsupported(
                "nothing to fine-tune: the chosen parts of this model have no trainable weights".into(),
            ));
        }
        if !options.parts.decoder && options.losses.reconstruction > 0.0 && !options.parts.grouping {
            return Err(Error::Unsupported("reconstruction with a frozen decoder needs the grouping to train".into()));
        }
        let objective = Objective::new(&model, options.losses.clone())?;
        let average = if options.ema_decay > 0.0 { Some(Average::new(&model, base, options.ema_decay)?) } else { None };
        Ok(TrainCopy { model, good, average, objective })
    }

    fn restore(&mut self, from: &SlotModel) -> Result<()> {
        tch::no_grad(|| self.model.vs.copy(&from.vs))?;
        if let Some(average) = &mut self.average {
            average.reset(from)?;
        }
        Ok(())
    }

    /// The weights inference gets.
    fn served(&self) -> &SlotModel {
        self.average.as_ref().map_or(&self.model, |a| &a.model)
    }
}

fn trainer_loop(shared: &Shared, control: &Control, options: &FinetuneOptions, mut train: TrainCopy) -> Result<()> {
    let mut rng = ChaCha8Rng::seed_from_u64(options.seed);
    let mut opt = tch::nn::Adam::default().build(&train.model.vs, options.lr)?;
    let info = shared.model.info().clone();
    let min_interval = if options.max_steps_per_second > 0.0 {
        Duration::from_secs_f64(1.0 / options.max_steps_per_second)
    } else {
        Duration::ZERO
    };
    let mut last_step = Instant::now() - min_interval;
    let mut frames_at_last_step = 0u64;
    let mut mean: Option<f64> = None;
    let mut step = 0u64;
    loop {
        // Wait for work: unpaused, enough new frames, within the rate cap.
        {
            let mut st = control.state.lock();
            loop {
                if st.stop {
                    return Ok(());
                }
                if st.revert {
                    st.revert = false;
                    train.restore(shared.model.slot_model())?;
                    tch::no_grad(|| train.good.vs.copy(&shared.model.slot_model().vs))?;
                    opt = tch::nn::Adam::default().build(&train.model.vs, options.lr)?;
                    mean = None;
                    step = 0;
                    shared.publish(shared.model.clone());
                }
                let seen = shared.replay_added();
                st.stats.frames_seen = seen;
                if !st.paused
                    && seen >= frames_at_last_step + options.frames_per_step
                    && last_step.elapsed() >= min_interval
                {
                    frames_at_last_step = seen;
                    break;
                }
                let wait = if st.paused { Duration::from_millis(200) } else { Duration::from_millis(20) };
                control.wake.wait_for(&mut st, wait);
            }
        }
        let Some(batch) = shared.with_replay(|r| {
            r.sample(&mut rng, options.batch_clips, options.clip_frames, options.recent_bias)
                .map(|clips| Batch::from_clips(&clips, &info, options.losses.guided > 0.0))
        }) else {
            continue; // not enough frames yet
        };
        last_step = Instant::now();
        if !options.losses.apply_to(batch.guide.is_some()) {
            // Guided-only weights and some sampled frames came without
            // masks: nothing to learn from this batch, so do not run it.
            std::thread::sleep(Duration::from_millis(20));
            continue;
        }
        let frames: Vec<Tensor> = batch.frames.iter().map(|f| f.to_device(options.device)).collect();
        let guide: Option<Vec<Tensor>> = batch.guide.map(|g| g.iter().map(|t| t.to_device(options.device)).collect());
        let b = options.batch_clips as i64;
        let init = match info.init {
            InitKind::Gaussian => train.model.init_slots(b, InitInput::Seed(rng.random()))?,
            _ => train.model.init_slots(b, InitInput::None)?,
        };
        let terms = train.objective.clip_terms(&train.model, &frames, init, step, guide.as_deref())?;
        if !terms.total.requires_grad() {
            continue; // every term that applies came out constant (e.g. one iteration, self-distillation only)
        }
        let loss = terms.total.double_value(&[]);
        let exploded = mean.is_some_and(|m| loss > options.explode_factor * m);
        if !loss.is_finite() || exploded {
            tch::no_grad(|| train.model.vs.copy(&train.good.vs))?;
            opt = tch::nn::Adam::default().build(&train.model.vs, options.lr)?;
            let mut st = control.state.lock();
            st.stats.rollbacks += 1;
            st.stats.last_rollback = Some(format!(
                "step {step}: loss {loss:.4} (running mean {:.4}); rolled back to the last published weights",
                mean.unwrap_or(f64::NAN)
            ));
            continue;
        }
        if let Some(average) = &mut train.average {
            // Only weights whose loss just proved finite and sane enter
            // the average: an exploding step never reaches what is served.
            average.absorb();
        }
        opt.set_lr(options.lr_at(step));
        opt.backward_step_clip_norm(&terms.total, options.grad_clip);
        step += 1;
        mean = Some(mean.map_or(loss, |m| 0.95 * m + 0.05 * loss));
        let values = terms.values();
        let publish = step % options.publish_every == 0;
        if publish {
            tch::no_grad(|| train.good.vs.copy(&train.model.vs))?;
            let published = RuntimeModel::copy_of(train.served(), &shared.model)?;
            shared.publish(published);
        }
        let mut st = control.state.lock();
        let s = &mut st.stats;
        s.steps = step;
        s.samples += (options.batch_clips * options.clip_frames) as u64;
        s.publishes += publish as u64;
        s.loss = loss;
        s.loss_mean = mean.unwrap_or(loss);
        s.terms = values.map(|(_, v)| v);
        s.replay_frames = shared.with_replay(|r| Some(r.len() as u64)).unwrap_or(0);
    }
}

/// Tensors of one sampled batch: frames [B, 3, H, W] per clip position and,
/// when every frame has them, guide ids [B, H, W] at the input size.
struct Batch {
    frames: Vec<Tensor>,
    guide: Option<Vec<Tensor>>,
}

impl Batch {
    fn from_clips(clips: &[Vec<&ReplayFrame>], info: &super::model::ModelInfo, want_guide: bool) -> Batch {
        let (h, w) = (info.input_height, info.input_width);
        let t = clips[0].len();
        let b = clips.len() as i64;
        let frames = (0..t)
            .map(|i| {
                let mut data = Vec::with_capacity(clips.len() * 3 * h * w);
                for clip in clips {
                    data.extend_from_slice(&clip[i].input);
                }
                Tensor::from_slice(&data).view([b, 3, h as i64, w as i64])
            })
            .collect();
        let all_guided = clips.iter().all(|c| c.iter().all(|f| f.guide.is_some()));
        let guide = (want_guide && all_guided).then(|| {
            (0..t)
                .map(|i| {
                    let mut ids = Vec::with_capacity(clips.len() * h * w);
                    for clip in clips {
                        ids.extend(clip[i].guide.as_ref().expect("checked").iter().map(|&id| id as i64));
                    }
                    Tensor::from_slice(&ids).view([b, h as i64, w as i64])
                })
                .collect()
        });
        Batch { frames, guide }
    }
}

/// Writes `model`'s weights as a bundle whose description records the
/// fine-tuning (provenance).
pub(crate) fn save_with_provenance(model: &RuntimeModel, loaded: &RuntimeModel, steps: u64, path: &Path) -> Result<()> {
    let mut config = model.config().clone();
    config.description =
        format!("{} (fine-tuned online by slotrt {} for {steps} steps)", loaded.config().description, crate::VERSION);
    // Saved from the CPU; `copy` moves the weights across devices.
    let mut copy = SlotModel::with_base_dir(&config, Device::Cpu, loaded.base_dir())?;
    tch::no_grad(|| copy.vs.copy(&model.slot_model().vs))?;
    bundle::save(&copy, path)
}
