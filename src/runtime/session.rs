//! A session: the streams of one model, the worker thread that batches
//! them (`worker`), vectorised stepping (`lanes`) and online fine-tuning
//! (`finetune`), behind one handle.

use std::sync::Arc;
use std::thread::JoinHandle;

use parking_lot::Mutex;

use super::engine::EngineConfig;
use super::finetune::{FinetuneOptions, FinetuneSlot, FinetuneStats};
use super::frame::Frame;
use super::lanes::Lanes;
use super::model::RuntimeModel;
use super::options::{MaskRefinement, SessionOptions};
use super::result::FrameResult;
use super::shared::{closed, Shared, StreamState};
use super::stats::SessionStats;
use super::stream::Stream;
use super::worker;
use crate::error::Result;

/// One model's streams and their worker. Dropping it closes it.
///
/// Thread safety: every method may be called from any thread; `step`
/// calls on one session run one at a time.
pub struct Session {
    shared: Arc<Shared>,
    lanes: Lanes,
    finetune: FinetuneSlot,
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
        let shared = Arc::new(Shared::new(model, options, engine));
        if shared.options.warmup {
            worker::warm_up(&shared)?;
        }
        let worker = worker::spawn(&shared)?;
        Ok(Session {
            finetune: FinetuneSlot::new(Arc::clone(&shared.serving)),
            shared,
            lanes: Lanes::default(),
            worker: Mutex::new(Some(worker)),
        })
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
        self.shared.serving.current()
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
        state.streams.insert(key, StreamState::new(key, self.shared.model.info(), self.shared.options.queue_depth));
        Ok(Stream::new(Arc::clone(&self.shared), key))
    }

    /// Steps N environments at once on the calling thread (vectorised RL):
    /// frame i belongs to lane i (lanes are created on first use and keep
    /// their slots between calls); `reset[i]` starts lane i's episode fresh
    /// at this frame (gymnasium autoreset: set it on an episode's first
    /// observation). Nothing changes when any frame is invalid.
    pub fn step(&self, frames: &[Frame], reset: &[bool], results: &mut [FrameResult]) -> Result<()> {
        self.lanes.step(&self.shared, frames, reset, results)
    }

    /// Starts fine-tuning on the frames this session steps, on a trainer
    /// thread that publishes new weights to inference as it goes.
    pub fn enable_finetune(&self, options: FinetuneOptions) -> Result<()> {
        if self.shared.state.lock().closed {
            return Err(closed("session"));
        }
        self.finetune.enable(options)
    }

    pub fn pause_finetune(&self) -> Result<()> {
        self.finetune.set_paused(true)
    }

    pub fn resume_finetune(&self) -> Result<()> {
        self.finetune.set_paused(false)
    }

    pub fn finetune_stats(&self) -> Result<FinetuneStats> {
        self.finetune.stats()
    }

    /// Stops the trainer (after its current step and publish) and frees
    /// the replay; the last published weights keep serving. Returns the
    /// final stats.
    pub fn stop_finetune(&self) -> Result<FinetuneStats> {
        self.finetune.stop()
    }

    /// Goes back to the weights as loaded; a running trainer restarts from
    /// them too.
    pub fn revert_finetune(&self) {
        self.finetune.revert()
    }

    /// Saves the weights serving now as a bundle (same format; the
    /// description records the fine-tuning).
    pub fn save_model(&self, path: &std::path::Path) -> Result<()> {
        self.finetune.save_serving(path)
    }

    pub fn stats(&self) -> SessionStats {
        let state = self.shared.state.lock();
        let open = state.streams.values().filter(|s| !s.closed).count() as u64;
        state.counters.snapshot(open)
    }

    /// Stops the worker and closes every stream; calls on them then fail
    /// with `Closed`. Idempotent.
    pub fn close(&self) {
        self.finetune.shut_down();
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
