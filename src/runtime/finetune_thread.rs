//! The fine-tuning thread: samples clips of recent frames from the replay,
//! runs optimiser steps on its own copy of the weights (on CPU or a GPU),
//! and publishes new weights to inference by swapping the serving pointer.
//! A loss that turns non-finite or explodes rolls back to the last good
//! weights.

use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tch::nn::OptimizerConfig;
use tch::{Device, Tensor};

use super::finetune_options::{FinetuneOptions, FinetuneStats};
use super::finetune_weights::TrainCopy;
use super::model::{InitKind, ModelInfo, RuntimeModel};
use super::replay::ReplayFrame;
use super::serving::Serving;
use crate::error::{panic_message, Error, Result};
use crate::model::grouping::InitInput;

#[derive(Default)]
struct ControlState {
    paused: bool,
    stop: bool,
    revert: bool,
    stats: FinetuneStats,
}

/// Shared between the session and its trainer thread.
struct Control {
    state: Mutex<ControlState>,
    wake: Condvar,
}

pub(crate) struct Finetuner {
    control: Arc<Control>,
    thread: Option<JoinHandle<()>>,
}

impl Finetuner {
    /// Starts training on the frames `serving` steps from now on.
    pub fn start(serving: Arc<Serving>, options: FinetuneOptions) -> Result<Finetuner> {
        options.validate()?;
        let loaded = serving.loaded.clone();
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
        let waker = Arc::clone(&control);
        serving.enable_replay(
            options.replay_capacity,
            Arc::new(move || {
                waker.wake.notify_all();
            }),
        );
        let for_thread = Arc::clone(&control);
        let thread = std::thread::Builder::new()
            .name("slotrt-finetune".into())
            .spawn(move || {
                let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    trainer_loop(&serving, &for_thread, &options, train)
                }));
                let error = match outcome {
                    Ok(Ok(())) => None,
                    Ok(Err(e)) => Some(e.to_string()),
                    Err(panic) => Some(format!("the trainer panicked: {}", panic_message(panic.as_ref()))),
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

fn trainer_loop(serving: &Serving, control: &Control, options: &FinetuneOptions, mut train: TrainCopy) -> Result<()> {
    let mut rng = ChaCha8Rng::seed_from_u64(options.seed);
    let mut opt = tch::nn::Adam::default().build(&train.model.vs, options.lr)?;
    let info = serving.loaded.info().clone();
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
                    train.restore(serving.loaded.slot_model())?;
                    tch::no_grad(|| train.good.vs.copy(&serving.loaded.slot_model().vs))?;
                    opt = tch::nn::Adam::default().build(&train.model.vs, options.lr)?;
                    mean = None;
                    step = 0;
                    serving.publish(serving.loaded.clone());
                }
                let seen = serving.replay_added();
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
        let Some(batch) = serving.with_replay(|r| {
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
            let published = RuntimeModel::copy_of(train.served(), &serving.loaded)?;
            serving.publish(published);
        }
        let mut st = control.state.lock();
        let s = &mut st.stats;
        s.steps = step;
        s.samples += (options.batch_clips * options.clip_frames) as u64;
        s.publishes += publish as u64;
        s.loss = loss;
        s.loss_mean = mean.unwrap_or(loss);
        s.terms = values.map(|(_, v)| v);
        s.replay_frames = serving.with_replay(|r| Some(r.len() as u64)).unwrap_or(0);
    }
}

/// Tensors of one sampled batch: frames [B, 3, H, W] per clip position and,
/// when every frame has them, guide ids [B, H, W] at the input size.
struct Batch {
    frames: Vec<Tensor>,
    guide: Option<Vec<Tensor>>,
}

impl Batch {
    fn from_clips(clips: &[Vec<&ReplayFrame>], info: &ModelInfo, want_guide: bool) -> Batch {
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
