//! What inference and online fine-tuning share, and nothing more: the
//! weights serving now and the replay of stepped frames. The fine-tuner
//! holds this handle instead of the whole session.

use std::sync::Arc;

use parking_lot::Mutex;

use super::model::RuntimeModel;
use super::replay::Replay;
use super::result::FrameResult;

/// Called after frames enter the replay (wakes the trainer).
pub(crate) type OnFrameAdded = Arc<dyn Fn() + Send + Sync>;

struct Feed {
    replay: Replay,
    on_added: OnFrameAdded,
}

pub(crate) struct Serving {
    /// The model as loaded: what a revert goes back to.
    pub loaded: Arc<RuntimeModel>,
    /// The weights inference uses now: `loaded`, or the latest published
    /// by online fine-tuning. Swapped, never written into.
    current: Mutex<Arc<RuntimeModel>>,
    /// Recent frames for fine-tuning (None while it is off).
    feed: Mutex<Option<Feed>>,
}

impl Serving {
    pub fn new(loaded: Arc<RuntimeModel>) -> Self {
        Serving { current: Mutex::new(loaded.clone()), loaded, feed: Mutex::new(None) }
    }

    /// The weights to run now (a cheap pointer copy).
    pub fn current(&self) -> Arc<RuntimeModel> {
        self.current.lock().clone()
    }

    /// Swaps in new weights; batches already running finish on the old ones.
    pub fn publish(&self, model: Arc<RuntimeModel>) {
        *self.current.lock() = model;
    }

    /// Starts remembering stepped frames; `on_added` runs after each.
    pub fn enable_replay(&self, capacity: usize, on_added: OnFrameAdded) {
        *self.feed.lock() = Some(Feed { replay: Replay::new(capacity), on_added });
    }

    /// Forgets the replay (fine-tuning stopped).
    pub fn disable_replay(&self) {
        *self.feed.lock() = None;
    }

    /// Frames ever added to the replay (0 when fine-tuning is off).
    pub fn replay_added(&self) -> u64 {
        self.feed.lock().as_ref().map_or(0, |f| f.replay.added)
    }

    pub fn with_replay<T>(&self, f: impl FnOnce(&Replay) -> Option<T>) -> Option<T> {
        self.feed.lock().as_ref().and_then(|feed| f(&feed.replay))
    }

    /// Remembers a stepped frame for fine-tuning, when it is on.
    pub fn record(&self, stream_key: u64, result: &FrameResult, input: &[f32], guide: Option<&[u8]>) {
        let mut feed = self.feed.lock();
        if let Some(f) = feed.as_mut() {
            f.replay.add(stream_key, result.episode, result.frame_index, input, guide);
            let on_added = Arc::clone(&f.on_added);
            // Not under the replay lock: the trainer takes it when it wakes.
            drop(feed);
            on_added();
        }
    }
}
