//! Online fine-tuning while serving, as a session offers it: start, pause,
//! resume, stats, stop, revert and save. The trainer runs on its own thread
//! (`finetune_thread`) and sees only the serving weights and the replay
//! (`serving::Serving`), never the session's streams.

use std::path::Path;
use std::sync::Arc;

use parking_lot::Mutex;

pub use super::finetune_options::{FinetuneOptions, FinetuneStats, TrainParts};
use super::finetune_thread::Finetuner;
use super::finetune_weights::save_with_provenance;
use super::serving::Serving;
use crate::error::{Error, Result};

/// A session's fine-tuning: off, or one running trainer.
pub(crate) struct FinetuneSlot {
    serving: Arc<Serving>,
    trainer: Mutex<Option<Finetuner>>,
}

impl FinetuneSlot {
    pub fn new(serving: Arc<Serving>) -> Self {
        FinetuneSlot { serving, trainer: Mutex::new(None) }
    }

    pub fn enable(&self, options: FinetuneOptions) -> Result<()> {
        let mut slot = self.trainer.lock();
        if slot.is_some() {
            return Err(Error::invalid("fine-tuning is already enabled on this session (stop it first)"));
        }
        *slot = Some(Finetuner::start(Arc::clone(&self.serving), options)?);
        Ok(())
    }

    fn with_trainer<T>(&self, f: impl FnOnce(&Finetuner) -> T) -> Result<T> {
        match self.trainer.lock().as_ref() {
            Some(ft) => Ok(f(ft)),
            None => Err(Error::invalid("fine-tuning is not enabled on this session")),
        }
    }

    pub fn set_paused(&self, paused: bool) -> Result<()> {
        self.with_trainer(|f| f.set_paused(paused))
    }

    pub fn stats(&self) -> Result<FinetuneStats> {
        self.with_trainer(|f| f.stats())
    }

    /// Stops the trainer (after its current step and publish) and frees
    /// the replay; the last published weights keep serving. Returns the
    /// final stats.
    pub fn stop(&self) -> Result<FinetuneStats> {
        let taken = self.trainer.lock().take();
        let Some(mut ft) = taken else {
            return Err(Error::invalid("fine-tuning is not enabled on this session"));
        };
        ft.stop();
        self.serving.disable_replay();
        Ok(ft.stats())
    }

    /// Stops a running trainer, if any (the session is closing).
    pub fn shut_down(&self) {
        if let Some(mut ft) = self.trainer.lock().take() {
            ft.stop();
        }
    }

    /// Goes back to the weights as loaded; a running trainer restarts from
    /// them too.
    pub fn revert(&self) {
        self.serving.publish(self.serving.loaded.clone());
        if let Some(ft) = self.trainer.lock().as_ref() {
            ft.request_revert();
        }
    }

    /// Saves the weights serving now as a bundle (same format; the
    /// description records the fine-tuning).
    pub fn save_serving(&self, path: &Path) -> Result<()> {
        let steps = self.trainer.lock().as_ref().map_or(0, |f| f.stats().steps);
        save_with_provenance(&self.serving.current(), &self.serving.loaded, steps, path)
    }
}
