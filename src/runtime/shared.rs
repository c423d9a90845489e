//! The state a session, its streams and its worker thread share: stream
//! queues, carried slots and counters under one lock, and the condition
//! variables they wait on.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;
use std::thread::ThreadId;
use std::time::Instant;

use parking_lot::{Condvar, Mutex};

use super::carry::{Carry, EpisodeSeed, FrameInit};
use super::engine::EngineConfig;
use super::model::{ModelInfo, RuntimeModel};
use super::options::SessionOptions;
use super::result::FrameResult;
use super::serving::Serving;
use super::stats::{SessionCounters, StreamStats};
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

impl StreamState {
    /// A fresh stream `key` of a model with `info`, queues `queue_depth` deep.
    pub fn new(key: u64, info: &ModelInfo, queue_depth: usize) -> Self {
        StreamState {
            frames: VecDeque::with_capacity(queue_depth),
            spare_frames: Vec::new(),
            results: VecDeque::with_capacity(queue_depth),
            spare_results: Vec::new(),
            carry: Some(Carry::new(key, info.num_slots, info.slot_dim)),
            next_init: FrameInit::Start(EpisodeSeed::Default),
            callback: None,
            callbacks_running: 0,
            closed: false,
            failure: None,
            stats: StreamStats::default(),
        }
    }

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
    pub cursor: u64,
}

impl State {
    pub fn new() -> Self {
        State { streams: BTreeMap::new(), next_key: 0, closed: false, counters: SessionCounters::new(), cursor: 0 }
    }

    /// The live stream `key`, or `Closed`.
    pub fn live_stream(&mut self, key: u64) -> Result<&mut StreamState> {
        if self.closed {
            return Err(closed("session"));
        }
        match self.streams.get_mut(&key) {
            Some(s) if !s.closed => Ok(s),
            _ => Err(closed("stream")),
        }
    }
}

pub(crate) struct Shared {
    /// The model as loaded: fixes the info, config and sizes for good.
    pub model: Arc<RuntimeModel>,
    /// The weights serving now and the fine-tuning replay.
    pub serving: Arc<Serving>,
    pub options: SessionOptions,
    pub engine: EngineConfig,
    pub state: Mutex<State>,
    /// The worker waits here for ready frames.
    pub work: Condvar,
    /// Pollers, state readers and callback setters wait here.
    pub progress: Condvar,
    /// Pushers wait here for queue space (block policy).
    pub space: Condvar,
    pub worker_thread: Mutex<Option<ThreadId>>,
}

impl Shared {
    pub fn new(model: Arc<RuntimeModel>, options: SessionOptions, engine: EngineConfig) -> Self {
        Shared {
            serving: Arc::new(Serving::new(model.clone())),
            model,
            options,
            engine,
            state: Mutex::new(State::new()),
            work: Condvar::new(),
            progress: Condvar::new(),
            space: Condvar::new(),
            worker_thread: Mutex::new(None),
        }
    }

    /// Whether the caller is this session's worker (e.g. inside a result
    /// callback), which must never wait for what only the worker can do.
    pub fn on_worker_thread(&self) -> bool {
        *self.worker_thread.lock() == Some(std::thread::current().id())
    }
}

pub(crate) fn closed(what: &str) -> Error {
    Error::Closed(format!("the {what} is closed"))
}
