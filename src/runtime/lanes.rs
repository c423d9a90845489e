//! `Session::step`: N environments of a vectorised environment stepped at
//! once on the caller's thread, each lane carrying its slots between calls.

use std::time::Instant;

use parking_lot::Mutex;

use super::carry::{Carry, EpisodeSeed, FrameInit, STEP_LANE_KEY};
use super::engine::{self, Job};
use super::frame::{convert_into, Frame};
use super::model::InitKind;
use super::result::FrameResult;
use super::shared::{closed, Shared};
use super::stats::{book_stepped_frame, SteppedFrame};
use crate::error::{Error, Result};

/// One environment of a vectorised env.
struct Lane {
    carry: Carry,
    input: Vec<f32>,
}

/// The lanes of one session; `step` calls on it run one at a time.
#[derive(Default)]
pub(crate) struct Lanes {
    lanes: Mutex<Vec<Lane>>,
    /// The job list, kept empty between calls so that its allocation is
    /// reused (see `engine::recycle`).
    jobs: Mutex<Vec<Job<'static>>>,
}

impl Lanes {
    /// See `Session::step`.
    pub fn step(&self, shared: &Shared, frames: &[Frame], reset: &[bool], results: &mut [FrameResult]) -> Result<()> {
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
        let mut lanes = self.lanes.lock();
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
        let mut jobs = engine::recycle(std::mem::take(&mut *self.jobs.lock()));
        jobs.extend(lanes.iter_mut().zip(results.iter_mut()).zip(frames.iter().zip(reset)).map(
            |((lane, result), (frame, &reset))| Job {
                input: &lane.input,
                init: if reset { FrameInit::Start(EpisodeSeed::Default) } else { FrameInit::Continue },
                carry: &mut lane.carry,
                result,
                label_size: labels.then_some((frame.height, frame.width)),
            },
        ));
        let outcome = engine::run(&shared.serving.current(), &shared.engine, &mut jobs);
        *self.jobs.lock() = engine::recycle(jobs);
        outcome?;
        for (lane, r) in lanes.iter().zip(results.iter()) {
            shared.serving.record(lane.carry.stream_key, r, &lane.input, None);
        }
        let total_us = started.elapsed().as_micros() as u64;
        let mut state = shared.state.lock();
        state.counters.record_batch(frames.len());
        for (r, frame) in results.iter_mut().zip(frames) {
            let stepped = SteppedFrame {
                timestamp_ns: frame.timestamp_ns,
                tag: frame.tag,
                queue_us: 0,
                total_us,
                counts_in: true,
            };
            book_stepped_frame(stepped, r, &mut state.counters, None);
        }
        Ok(())
    }
}
