//! A session: the streams of one model, their queues, and the worker
//! thread that batches ready frames across streams into one forward pass.

use std::collections::{BTreeMap, VecDeque};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;
use std::thread::{JoinHandle, ThreadId};
use std::time::Instant;

use parking_lot::{Condvar, Mutex};

use super::carry::{Carry, EpisodeSeed, FrameInit, STEP_LANE_KEY};
use super::engine::{self, EngineConfig, Job};
use super::finetune::{save_with_provenance, FinetuneOptions, FinetuneStats, Finetuner};
use super::frame::{convert_into, Frame};
use super::model::{InitKind, RuntimeModel};
use super::options::{MaskRefinement, OverflowPolicy, SessionOptions};
use super::replay::Replay;
use super::result::FrameResult;
use super::stats::{SessionCounters, SessionStats, StreamStats};
use super::stream::Stream;
use crate::error::{Error, Result};

/// Called on the worker thread with each result of a stream that has one
/// (instead of queueing the result for `poll`).
pub type ResultCallback = Arc<dyn Fn(&FrameResult) + Send + Sync>;

/// A frame waiting in a stream's queue, already converted.
#[derive(Debug)]
pub(crate) struct QueuedFrame {
    pub input: Vec<f32>,
    pub init: FrameInit,
    pub timestamp_ns: i64,
    pub tag: u64,
    pub label_size: Option<(usize, usize)>,
    /// Instance ids at the model's input size, for guided fine-tuning.
    pub guide: Option<Vec<u8>>,
    pub pushed: Instant,
}

pub(crate) struct StreamState {
    pub frames: VecDeque<QueuedFrame>,
    pub spare_frames: Vec<QueuedFrame>,
    pub results: VecDeque<FrameResult>,
    pub spare_results: Vec<FrameResult>,
    /// None while one of its frames is being stepped.
    pub carry: Option<Carry>,
    /// How the next pushed frame starts (reset / seeds / set_state).
    pub next_init: FrameInit,
    pub callback: Option<ResultCallback>,
    pub callbacks_running: u32,
    pub closed: bool,
    /// A failed step, reported by the stream's next call.
    pub failure: Option<Error>,
    pub stats: StreamStats,
}

impl QueuedFrame {
    /// An empty slot for a converted frame of `input_len` values.
    pub fn with_capacity(input_len: usize) -> Self {
        QueuedFrame {
            input: vec![0.0; input_len],
            init: FrameInit::Continue,
            timestamp_ns: 0,
            tag: 0,
            label_size: None,
            guide: None,
            pushed: Instant::now(),
        }
    }
}

impl StreamState {
    /// Hands a frame's start-of-episode instruction to the stream's next
    /// frame (queued, or yet to come) when that frame is dropped or fails,
    /// so a reset or seed is never lost with it.
    pub fn pass_on_init(&mut self, init: FrameInit) {
        let slot = match self.frames.front_mut() {
            Some(next) => &mut next.init,
            None => &mut self.next_init,
        };
        *slot = std::mem::replace(slot, FrameInit::Continue).absorb_dropped(init);
    }
}

pub(crate) struct State {
    pub streams: BTreeMap<u64, StreamState>,
    pub next_key: u64,
    pub closed: bool,
    pub counters: SessionCounters,
    /// Where the next batch starts looking, for fairness between streams.
    cursor: u64,
}

/// A lane of `Session::step`: one environment of a vectorised env.
struct Lane {
    carry: Carry,
    input: Vec<f32>,
}

pub(crate) struct Shared {
    /// The model as loaded: fixes the info, config and sizes for good.
    pub model: Arc<RuntimeModel>,
    /// The weights inference uses now: `model`, or the latest published
    /// by online fine-tuning. Swapped, never written into.
    current: Mutex<Arc<RuntimeModel>>,
    /// Recent frames for fine-tuning (None while it is off).
    replay: Mutex<Option<Replay>>,
    finetuner: Mutex<Option<Finetuner>>,
    pub options: SessionOptions,
    pub engine: EngineConfig,
    pub state: Mutex<State>,
    /// The worker waits here for ready frames.
    pub work: Condvar,
    /// Pollers, state readers and callback setters wait here.
    pub progress: Condvar,
    /// Pushers wait here for queue space (block policy).
    pub space: Condvar,
    lanes: Mutex<Vec<Lane>>,
    /// `step`'s job list, kept empty between calls so that its allocation
    /// is reused (see `engine::recycle`).
    step_jobs: Mutex<Vec<Job<'static>>>,
    worker_thread: Mutex<Option<ThreadId>>,
}

/// One model's streams and their worker. Dropping it closes it.
///
/// Thread safety: every method may be called from any thread; `step`
/// calls on one session run one at a time.
pub struct Session {
    shared: Arc<Shared>,
    worker: Mutex<Option<JoinHandle<()>>>,
}

impl Session {
    pub fn new(model: Arc<RuntimeModel>, options: SessionOptions) -> Result<Session> {
        options.validate()?;
        if let MaskRefinement::Custom(filter) = options.mask_refinement {
            filter.validate(model.config().preprocess.height, model.config().preprocess.width)?;
        }
        let session_seed = if options.deterministic { options.seed } else { rand::random() };
        let engine = EngineConfig {
            session_seed,
            masks: options.mask_source.resolve(model.config().masks),
            refine: options.mask_refinement.resolve(model.config()),
        };
        let shared = Arc::new(Shared {
            current: Mutex::new(model.clone()),
            replay: Mutex::new(None),
            finetuner: Mutex::new(None),
            model,
            options,
            engine,
            state: Mutex::new(State {
                streams: BTreeMap::new(),
                next_key: 0,
                closed: false,
                counters: SessionCounters::new(),
                cursor: 0,
            }),
            work: Condvar::new(),
            progress: Condvar::new(),
            space: Condvar::new(),
            lanes: Mutex::new(Vec::new()),
            step_jobs: Mutex::new(Vec::new()),
            worker_thread: Mutex::new(None),
        });
        if shared.options.warmup {
            warm_up(&shared)?;
        }
        let for_worker = Arc::clone(&shared);
        let worker = std::thread::Builder::new()
            .name("slotrt-worker".into())
            .spawn(move || worker_loop(&for_worker))
            .map_err(|e| Error::Internal(format!("cannot start the worker thread: {e}")))?;
        *shared.worker_thread.lock() = Some(worker.thread().id());
        Ok(Session { shared, worker: Mutex::new(Some(worker)) })
    }

    pub fn model(&self) -> &Arc<RuntimeModel> {
        &self.shared.model
    }

    pub fn options(&self) -> &SessionOptions {
        &self.shared.options
    }

    /// The weights serving now (the loaded ones, or the latest published
    /// by fine-tuning).
    pub fn current_model(&self) -> Arc<RuntimeModel> {
        self.shared.current_model()
    }

    /// The seed of this session's slot noise (`options.seed` in
    /// deterministic mode, otherwise drawn at creation): with it,
    /// `episode_seed` reproduces every stream's first slots.
    pub fn seed(&self) -> u64 {
        self.shared.engine.session_seed
    }

    /// Mask size of this session's results (decoder or attention grid).
    pub fn mask_size(&self) -> (usize, usize) {
        self.shared.engine.mask_size(&self.shared.model)
    }

    /// Opens a stream: its own queue, carried slots and ids.
    pub fn open_stream(&self) -> Result<Stream> {
        let mut state = self.shared.state.lock();
        if state.closed {
            return Err(closed("session"));
        }
        let key = state.next_key;
        state.next_key += 1;
        let info = self.shared.model.info();
        state.streams.insert(
            key,
            StreamState {
                frames: VecDeque::with_capacity(self.shared.options.queue_depth),
                spare_frames: Vec::new(),
                results: VecDeque::with_capacity(self.shared.options.queue_depth),
                spare_results: Vec::new(),
                carry: Some(Carry::new(key, info.num_slots, info.slot_dim)),
                next_init: FrameInit::Start(EpisodeSeed::Default),
                callback: None,
                callbacks_running: 0,
                closed: false,
                failure: None,
                stats: StreamStats::default(),
            },
        );
        Ok(Stream::new(Arc::clone(&self.shared), key))
    }

    /// Steps N environments at once on the calling thread (vectorised RL):
    /// frame i belongs to lane i (lanes are created on first use and keep
    /// their slots between calls); `reset[i]` starts lane i's episode fresh
    /// at this frame (gymnasium autoreset: set it on an episode's first
    /// observation). Nothing changes when any frame is invalid.
    pub fn step(&self, frames: &[Frame], reset: &[bool], results: &mut [FrameResult]) -> Result<()> {
        let shared = &self.shared;
        if frames.len() != reset.len() || frames.len() != results.len() {
            return Err(Error::invalid(format!(
                "step got {} frames, {} reset flags and {} results; they must match",
                frames.len(),
                reset.len(),
                results.len()
            )));
        }
        if frames.is_empty() {
            return Err(Error::invalid("step needs at least one frame"));
        }
        if shared.model.info().init == InitKind::Conditional {
            return Err(Error::Unsupported(
                "step() cannot seed a conditional model; use streams and seed_boxes".into(),
            ));
        }
        if shared.state.lock().closed {
            return Err(closed("session"));
        }
        let started = Instant::now();
        let mut lanes = shared.lanes.lock();
        let info = shared.model.info();
        let input_len = 3 * info.input_height * info.input_width;
        while lanes.len() < frames.len() {
            let key = STEP_LANE_KEY + lanes.len() as u64;
            lanes.push(Lane { carry: Carry::new(key, info.num_slots, info.slot_dim), input: vec![0.0; input_len] });
        }
        for (i, (frame, lane)) in frames.iter().zip(lanes.iter_mut()).enumerate() {
            convert_into(frame, &shared.model.config().preprocess, &mut lane.input)
                .map_err(|e| Error::invalid(format!("frame {i}: {e}")))?;
        }
        let labels = shared.options.label_maps;
        let mut jobs = engine::recycle(std::mem::take(&mut *shared.step_jobs.lock()));
        jobs.extend(lanes.iter_mut().zip(results.iter_mut()).zip(frames.iter().zip(reset)).map(
            |((lane, result), (frame, &reset))| Job {
                input: &lane.input,
                init: if reset { FrameInit::Start(EpisodeSeed::Default) } else { FrameInit::Continue },
                carry: &mut lane.carry,
                result,
                label_size: labels.then_some((frame.height, frame.width)),
            },
        ));
        let outcome = engine::run(&shared.current_model(), &shared.engine, &mut jobs);
        *shared.step_jobs.lock() = engine::recycle(jobs);
        outcome?;
        for (lane, r) in lanes.iter().zip(results.iter()) {
            shared.record(lane.carry.stream_key, r, &lane.input, None);
        }
        let total_us = started.elapsed().as_micros() as u64;
        let mut state = shared.state.lock();
        state.counters.record_batch(frames.len());
        state.counters.frames_in += frames.len() as u64;
        for (r, frame) in results.iter_mut().zip(frames) {
            r.timestamp_ns = frame.timestamp_ns;
            r.tag = frame.tag;
            r.latency.queue_us = 0;
            r.latency.total_us = total_us;
            state.counters.record_frame(&r.latency);
        }
        Ok(())
    }

    /// Starts fine-tuning on the frames this session steps, on a trainer
    /// thread that publishes new weights to inference as it goes.
    pub fn enable_finetune(&self, options: FinetuneOptions) -> Result<()> {
        let shared = &self.shared;
        if shared.state.lock().closed {
            return Err(closed("session"));
        }
        let mut slot = shared.finetuner.lock();
        if slot.is_some() {
            return Err(Error::invalid("fine-tuning is already enabled on this session (stop it first)"));
        }
        *slot = Some(Finetuner::start(Arc::clone(shared), options)?);
        Ok(())
    }

    fn with_finetuner<T>(&self, f: impl FnOnce(&Finetuner) -> T) -> Result<T> {
        match self.shared.finetuner.lock().as_ref() {
            Some(ft) => Ok(f(ft)),
            None => Err(Error::invalid("fine-tuning is not enabled on this session")),
        }
    }

    pub fn pause_finetune(&self) -> Result<()> {
        self.with_finetuner(|f| f.set_paused(true))
    }

    pub fn resume_finetune(&self) -> Result<()> {
        self.with_finetuner(|f| f.set_paused(false))
    }

    pub fn finetune_stats(&self) -> Result<FinetuneStats> {
        self.with_finetuner(|f| f.stats())
    }

    /// Stops the trainer (after its current step and publish) and frees
    /// the replay; the last published weights keep serving. Returns the
    /// final stats.
    pub fn stop_finetune(&self) -> Result<FinetuneStats> {
        let taken = self.shared.finetuner.lock().take();
        let Some(mut ft) = taken else {
            return Err(Error::invalid("fine-tuning is not enabled on this session"));
        };
        ft.stop();
        *self.shared.replay.lock() = None;
        Ok(ft.stats())
    }

    /// Goes back to the weights as loaded; a running trainer restarts from
    /// them too.
    pub fn revert_finetune(&self) {
        self.shared.publish(self.shared.model.clone());
        if let Some(ft) = self.shared.finetuner.lock().as_ref() {
            ft.request_revert();
        }
    }

    /// Saves the weights serving now as a bundle (same format; the
    /// description records the fine-tuning).
    pub fn save_model(&self, path: &std::path::Path) -> Result<()> {
        let steps = self.shared.finetuner.lock().as_ref().map_or(0, |f| f.stats().steps);
        save_with_provenance(&self.shared.current_model(), &self.shared.model, steps, path)
    }

    pub fn stats(&self) -> SessionStats {
        let state = self.shared.state.lock();
        let open = state.streams.values().filter(|s| !s.closed).count() as u64;
        state.counters.snapshot(open)
    }

    /// Stops the worker and closes every stream; calls on them then fail
    /// with `Closed`. Idempotent.
    pub fn close(&self) {
        if let Some(mut ft) = self.shared.finetuner.lock().take() {
            ft.stop();
        }
        {
            let mut state = self.shared.state.lock();
            state.closed = true;
            for stream in state.streams.values_mut() {
                stream.closed = true;
            }
        }
        self.shared.work.notify_all();
        self.shared.progress.notify_all();
        self.shared.space.notify_all();
        let worker = self.worker.lock().take();
        if let Some(worker) = worker {
            if std::thread::current().id() != worker.thread().id() {
                let _ = worker.join();
            }
        }
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        self.close();
    }
}

pub(crate) fn closed(what: &str) -> Error {
    Error::Closed(format!("the {what} is closed"))
}

impl Shared {
    /// The live stream `key`, or `Closed`.
    pub fn stream(state: &mut State, key: u64) -> Result<&mut StreamState> {
        if state.closed {
            return Err(closed("session"));
        }
        match state.streams.get_mut(&key) {
            Some(s) if !s.closed => Ok(s),
            _ => Err(closed("stream")),
        }
    }

    /// The weights to run now (a cheap pointer copy).
    pub fn current_model(&self) -> Arc<RuntimeModel> {
        self.current.lock().clone()
    }

    /// Swaps in new weights; batches already running finish on the old ones.
    pub fn publish(&self, model: Arc<RuntimeModel>) {
        *self.current.lock() = model;
    }

    pub fn enable_replay(&self, capacity: usize) {
        *self.replay.lock() = Some(Replay::new(capacity));
    }

    /// Frames ever added to the replay (0 when fine-tuning is off).
    pub fn replay_added(&self) -> u64 {
        self.replay.lock().as_ref().map_or(0, |r| r.added)
    }

    pub fn with_replay<T>(&self, f: impl FnOnce(&Replay) -> Option<T>) -> Option<T> {
        self.replay.lock().as_ref().and_then(f)
    }

    /// Remembers a stepped frame for fine-tuning, when it is on.
    pub fn record(&self, stream_key: u64, result: &FrameResult, input: &[f32], guide: Option<&[u8]>) {
        let mut replay = self.replay.lock();
        if let Some(r) = replay.as_mut() {
            r.add(stream_key, result.episode, result.frame_index, input, guide);
            drop(replay);
            if let Some(f) = self.finetuner.lock().as_ref() {
                f.notify();
            }
        }
    }

    pub fn on_worker_thread(&self) -> bool {
        *self.worker_thread.lock() == Some(std::thread::current().id())
    }
}

/// Runs the model once per batch size the session will use, so the first
/// real frames do not pay for libtorch's lazy initialisation.
fn warm_up(shared: &Shared) -> Result<()> {
    let info = shared.model.info();
    let input = vec![0.0; 3 * info.input_height * info.input_width];
    let mut sizes = vec![1];
    if shared.options.max_batch > 1 && !shared.options.deterministic {
        sizes.push(shared.options.max_batch);
    }
    for batch in sizes {
        let mut carries: Vec<Carry> = (0..batch).map(|_| Carry::new(u64::MAX, info.num_slots, info.slot_dim)).collect();
        let mut results: Vec<FrameResult> = (0..batch).map(|_| FrameResult::default()).collect();
        for first in [true, false] {
            let mut jobs: Vec<Job> = carries
                .iter_mut()
                .zip(results.iter_mut())
                .map(|(carry, result)| Job {
                    input: &input,
                    init: if first {
                        FrameInit::Start(match info.init {
                            InitKind::Conditional => EpisodeSeed::Boxes(vec![0.0; 4 * info.num_slots]),
                            _ => EpisodeSeed::Default,
                        })
                    } else {
                        FrameInit::Continue
                    },
                    carry,
                    result,
                    label_size: None,
                })
                .collect();
            engine::run(&shared.current_model(), &shared.engine, &mut jobs)?;
        }
    }
    Ok(())
}

/// A frame taken from a stream for the current batch.
struct Taken {
    key: u64,
    frame: QueuedFrame,
    carry: Carry,
    result: FrameResult,
}

fn ready(stream: &StreamState, options: &SessionOptions) -> bool {
    !stream.closed
        && stream.carry.is_some()
        && !stream.frames.is_empty()
        && (options.overflow == OverflowPolicy::KeepLatest
            || stream.callback.is_some()
            || stream.results.len() < options.queue_depth)
}

fn worker_loop(shared: &Shared) {
    let options = &shared.options;
    let max_batch = if options.deterministic { 1 } else { options.max_batch };
    let mut taken: Vec<Taken> = Vec::with_capacity(max_batch);
    let mut callbacks: Vec<(u64, ResultCallback, FrameResult)> = Vec::with_capacity(max_batch);
    loop {
        let mut state = shared.state.lock();
        // Wait for one ready frame, then up to max_wait for more streams.
        let oldest = loop {
            if state.closed {
                return;
            }
            let oldest = state.streams.values().filter(|s| ready(s, options)).map(|s| s.frames[0].pushed).min();
            if let Some(oldest) = oldest {
                break oldest;
            }
            shared.work.wait(&mut state);
        };
        if max_batch > 1 && !options.max_wait.is_zero() {
            let deadline = oldest + options.max_wait;
            while state.streams.values().filter(|s| ready(s, options)).count() < max_batch && !state.closed {
                if shared.work.wait_until(&mut state, deadline).timed_out() {
                    break;
                }
            }
            if state.closed {
                return;
            }
        }
        take_batch(&mut state, options, max_batch, &mut taken);
        drop(state);
        shared.space.notify_all();

        let batch_start = Instant::now();
        let failure = {
            let mut jobs: Vec<Job> = taken
                .iter_mut()
                .map(|t| Job {
                    input: &t.frame.input,
                    init: std::mem::replace(&mut t.frame.init, FrameInit::Continue),
                    carry: &mut t.carry,
                    result: &mut t.result,
                    label_size: t.frame.label_size,
                })
                .collect();
            let model = shared.current_model();
            let outcome = catch_unwind(AssertUnwindSafe(|| engine::run(&model, &shared.engine, &mut jobs)));
            let failure = match outcome {
                Ok(Ok(_)) => None,
                Ok(Err(e)) => Some(e),
                Err(panic) => Some(Error::Internal(format!("the model step panicked: {}", panic_message(&panic)))),
            };
            if failure.is_some() {
                // Carries are untouched on failure; keep each frame's
                // episode start so the stream's next frame inherits it.
                let inits: Vec<FrameInit> =
                    jobs.iter_mut().map(|j| std::mem::replace(&mut j.init, FrameInit::Continue)).collect();
                drop(jobs);
                for (t, init) in taken.iter_mut().zip(inits) {
                    t.frame.init = init;
                }
            }
            failure
        };
        let done = Instant::now();
        if failure.is_none() {
            for t in &taken {
                shared.record(t.key, &t.result, &t.frame.input, t.frame.guide.as_deref());
            }
        }

        let mut state = shared.state.lock();
        if failure.is_none() {
            state.counters.record_batch(taken.len());
        }
        for t in taken.drain(..) {
            let Taken { key, mut frame, carry, mut result } = t;
            let state = &mut *state;
            let Some(stream) = state.streams.get_mut(&key) else {
                continue;
            };
            stream.carry = Some(carry);
            if stream.closed {
                if stream.callbacks_running == 0 {
                    state.streams.remove(&key);
                }
                continue;
            }
            let init = std::mem::replace(&mut frame.init, FrameInit::Continue);
            let pushed = frame.pushed;
            result.timestamp_ns = frame.timestamp_ns;
            result.tag = frame.tag;
            stream.spare_frames.push(frame);
            if let Some(err) = &failure {
                stream.pass_on_init(init);
                stream.failure = Some(clone_error(err));
                stream.spare_results.push(result);
                continue;
            }
            stream.stats.frames_out += 1;
            stream.stats.episodes = stream.carry.as_ref().map_or(0, |c| c.episodes);
            result.latency.queue_us = batch_start.duration_since(pushed).as_micros() as u64;
            result.latency.total_us = done.duration_since(pushed).as_micros() as u64;
            state.counters.record_frame(&result.latency);
            if let Some(cb) = &stream.callback {
                stream.callbacks_running += 1;
                callbacks.push((key, Arc::clone(cb), result));
            } else {
                if stream.results.len() >= options.queue_depth {
                    // Only reachable under keep-latest: block waits for room.
                    if let Some(old) = stream.results.pop_front() {
                        stream.spare_results.push(old);
                        stream.stats.results_dropped += 1;
                        state.counters.results_dropped += 1;
                    }
                }
                stream.results.push_back(result);
            }
        }
        if !callbacks.is_empty() {
            drop(state);
            for (_, cb, result) in &callbacks {
                let _ = catch_unwind(AssertUnwindSafe(|| cb(result)));
            }
            state = shared.state.lock();
            for (key, _, result) in callbacks.drain(..) {
                if let Some(stream) = state.streams.get_mut(&key) {
                    stream.callbacks_running -= 1;
                    stream.spare_results.push(result);
                    if stream.closed && stream.callbacks_running == 0 && stream.carry.is_some() {
                        state.streams.remove(&key);
                    }
                }
            }
        }
        drop(state);
        shared.progress.notify_all();
    }
}

fn take_batch(state: &mut State, options: &SessionOptions, max_batch: usize, taken: &mut Vec<Taken>) {
    let cursor = state.cursor;
    let keys: Vec<u64> = state
        .streams
        .range(cursor..)
        .chain(state.streams.range(..cursor))
        .filter(|(_, s)| ready(s, options))
        .map(|(&k, _)| k)
        .take(max_batch)
        .collect();
    for key in keys {
        let stream = state.streams.get_mut(&key).expect("listed");
        let frame = stream.frames.pop_front().expect("ready");
        let carry = stream.carry.take().expect("ready");
        let result = stream.spare_results.pop().unwrap_or_default();
        stream.stats.queue_depth = stream.frames.len() as u64;
        state.cursor = key + 1;
        taken.push(Taken { key, frame, carry, result });
    }
}

fn panic_message(panic: &Box<dyn std::any::Any + Send>) -> String {
    panic
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "unknown panic".into())
}

/// A batch failure reported to every stream in it: same kind, same message.
pub(crate) fn clone_error(err: &Error) -> Error {
    err.duplicate()
}
