//! A stream's episodes and carried slots: reset, seeding from boxes or
//! slots, and reading or replacing the carried state.

use super::carry::{check_values, EpisodeSeed, FrameInit};
use super::model::InitKind;
use super::stream::Stream;
use crate::error::{Error, Result};

impl Stream {
    /// Starts a new episode at the next pushed or processed frame: fresh
    /// slots, new slot ids. Frames already queued finish the old episode.
    pub fn reset(&self) -> Result<()> {
        self.set_next_init(FrameInit::Start(EpisodeSeed::Default))
    }

    /// Starts a new episode at the next frame from boxes [K * 4], as
    /// (y_min, x_min, y_max, x_max) in [0, 1], one per slot (a zero box for
    /// an unused slot). Conditional models only.
    pub fn seed_boxes(&self, boxes: &[f32]) -> Result<()> {
        let info = self.shared.model.info();
        if info.init != InitKind::Conditional {
            return Err(Error::Unsupported("this model does not take boxes (its init is not conditional)".into()));
        }
        check_values(boxes, 4 * info.num_slots, "boxes")?;
        self.set_next_init(FrameInit::Start(EpisodeSeed::Boxes(boxes.to_vec())))
    }

    /// Starts a new episode at the next frame from the given slots [K * D].
    pub fn seed_slots(&self, slots: &[f32]) -> Result<()> {
        let info = self.shared.model.info();
        check_values(slots, info.num_slots * info.slot_dim, "slots")?;
        self.set_next_init(FrameInit::Start(EpisodeSeed::Slots(slots.to_vec())))
    }

    fn set_next_init(&self, init: FrameInit) -> Result<()> {
        let mut state = self.lock();
        state.live_stream(self.key)?.next_init = init;
        Ok(())
    }

    /// Continues the episode from the given slots [K * D] at the next frame
    /// (a world model's predicted slots, or a state saved with `state`).
    pub fn set_state(&self, slots: &[f32]) -> Result<()> {
        let info = self.shared.model.info();
        check_values(slots, info.num_slots * info.slot_dim, "state")?;
        let mut state = self.lock();
        let stream = state.live_stream(self.key)?;
        stream.next_init = match std::mem::replace(&mut stream.next_init, FrameInit::Continue) {
            FrameInit::Start(_) => FrameInit::Start(EpisodeSeed::Slots(slots.to_vec())),
            _ => FrameInit::ContinueFrom(slots.to_vec()),
        };
        Ok(())
    }

    /// Copies the carried slots [K * D] (the initial slots of the frame
    /// after the last one stepped) into `out`. Waits while a frame of this
    /// stream is being stepped. Frames still queued are not reflected.
    pub fn state(&self, out: &mut [f32]) -> Result<()> {
        let info = self.shared.model.info();
        let needed = info.num_slots * info.slot_dim;
        if out.len() < needed {
            return Err(Error::invalid(format!("state buffer holds {} values, {needed} needed", out.len())));
        }
        let mut state = self.lock();
        loop {
            let stream = state.live_stream(self.key)?;
            match &stream.carry {
                Some(c) if !c.started => return Err(Error::invalid("no frame of this stream has been stepped yet")),
                Some(c) => {
                    out[..needed].copy_from_slice(&c.next_init);
                    return Ok(());
                }
                None => self.shared.progress.wait(&mut state),
            }
        }
    }
}
