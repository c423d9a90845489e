//! A stream: one camera or one environment. Frames pushed to it are
//! stepped in order with the slots carried from its previous frame.

use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::MutexGuard;

use super::carry::{check_episode_seed, FrameInit};
use super::engine::{self, Job};
use super::frame::{convert_into, Frame};
use super::options::OverflowPolicy;
use super::result::FrameResult;
use super::shared::{closed, QueuedFrame, ResultCallback, Shared, State, StreamState};
use super::stats::{book_stepped_frame, SteppedFrame, StreamStats};
use crate::error::{Error, Result};

/// A handle to one stream of a session. Dropping it closes the stream.
///
/// Thread safety: all methods may be called from any thread, also
/// concurrently (one thread pushing while another polls is the usual
/// pattern). Results come out in push order.
pub struct Stream {
    pub(super) shared: Arc<Shared>,
    pub(super) key: u64,
}

impl Stream {
    pub(crate) fn new(shared: Arc<Shared>, key: u64) -> Self {
        Stream { shared, key }
    }

    /// The stream's key: its open order within the session (it also keys
    /// the stream's slot noise, see `carry::episode_seed`).
    pub fn key(&self) -> u64 {
        self.key
    }

    pub fn model_info(&self) -> &super::model::ModelInfo {
        self.shared.model.info()
    }

    /// Mask size of this stream's results.
    pub fn mask_size(&self) -> (usize, usize) {
        self.shared.engine.mask_size(&self.shared.model)
    }

    /// Whether results carry label maps (a session option).
    pub fn label_maps(&self) -> bool {
        self.shared.options.label_maps
    }

    pub(super) fn lock(&self) -> MutexGuard<'_, State> {
        self.shared.state.lock()
    }

    /// Queues a frame for the session's worker. The pixels are converted
    /// (resized, normalised) during this call and never read afterwards.
    /// On a full queue, keep-latest drops the oldest queued frame; block
    /// waits for room.
    pub fn push(&self, frame: &Frame) -> Result<()> {
        self.push_inner(frame, None)
    }

    /// `push` with the frame's instance masks (one id per pixel of the
    /// frame, 0 = background), which guided fine-tuning learns from; a
    /// simulator has them for free.
    pub fn push_with_masks(&self, frame: &Frame, ids: &[u8]) -> Result<()> {
        frame.validate()?;
        check_masks(ids, frame)?;
        self.push_inner(frame, Some(ids))
    }

    fn push_inner(&self, frame: &Frame, ids: Option<&[u8]>) -> Result<()> {
        frame.validate()?;
        let shared = &self.shared;
        let info = shared.model.info();
        let mut buffer = {
            let mut state = self.lock();
            let stream = live(&mut state, self.key)?;
            check_episode_seed(&stream.next_init, info.init)?;
            stream.spare_frames.pop()
        }
        .unwrap_or_else(|| QueuedFrame::with_capacity(3 * info.input_height * info.input_width));
        match ids {
            Some(ids) => {
                let (h, w) = (info.input_height, info.input_width);
                let guide = buffer.guide.get_or_insert_with(Vec::new);
                guide.clear();
                guide.extend(
                    (0..h * w).map(|i| ids[(i / w) * frame.height / h * frame.width + (i % w) * frame.width / w]),
                );
            }
            None => buffer.guide = None,
        }
        if let Err(e) = convert_into(frame, &shared.model.config().preprocess, &mut buffer.input) {
            self.give_back_buffer(buffer);
            return Err(e);
        }
        buffer.timestamp_ns = frame.timestamp_ns;
        buffer.tag = frame.tag;
        buffer.label_size = shared.options.label_maps.then_some((frame.height, frame.width));

        let mut state = self.lock();
        loop {
            let stream = live(&mut state, self.key)?;
            if stream.frames.len() < shared.options.queue_depth {
                break;
            }
            match shared.options.overflow {
                OverflowPolicy::KeepLatest => {
                    let mut dropped = stream.frames.pop_front().expect("full queue");
                    stream.pass_on_init(std::mem::replace(&mut dropped.init, FrameInit::Continue));
                    stream.spare_frames.push(dropped);
                    stream.stats.frames_dropped += 1;
                    state.counters.frames_dropped += 1;
                }
                // Room is made by the worker: the worker itself (a result
                // callback) must not wait for it.
                OverflowPolicy::Block if shared.on_worker_thread() => {
                    drop(state);
                    self.give_back_buffer(buffer);
                    return Err(Error::QueueFull(format!(
                        "the stream's queue is full ({} frames) and this push comes from the session's worker thread \
                         (a result callback), which cannot wait for room: the frame was not queued",
                        shared.options.queue_depth
                    )));
                }
                OverflowPolicy::Block => shared.space.wait(&mut state),
            }
        }
        let state = &mut *state;
        let stream = live(state, self.key)?;
        buffer.init = std::mem::replace(&mut stream.next_init, FrameInit::Continue);
        buffer.pushed = Instant::now();
        stream.frames.push_back(buffer);
        stream.stats.frames_in += 1;
        stream.stats.queue_depth = stream.frames.len() as u64;
        state.counters.frames_in += 1;
        shared.work.notify_one();
        Ok(())
    }

    fn give_back_buffer(&self, buffer: QueuedFrame) {
        if let Ok(stream) = self.lock().live_stream(self.key) {
            stream.spare_frames.push(buffer);
        }
    }

    /// Takes the oldest result into `out` (swapping buffers: no copy, no
    /// allocation once sizes settle). Waits up to `timeout` (None: for
    /// ever); `Ok(false)` when nothing arrived in time.
    pub fn poll(&self, timeout: Option<Duration>, out: &mut FrameResult) -> Result<bool> {
        let taken = self.poll_with(timeout, |queued| {
            std::mem::swap(queued, out);
            Ok::<(), Error>(())
        })?;
        Ok(taken.is_some())
    }

    /// Waits for the oldest result and hands it to `take`; the result is
    /// consumed only when `take` succeeds (so a too-small caller buffer
    /// loses nothing). `take`'s error comes back as it is (the C API keeps
    /// its status that way).
    pub fn poll_with<T, E: From<Error>>(
        &self,
        timeout: Option<Duration>,
        take: impl FnOnce(&mut FrameResult) -> std::result::Result<T, E>,
    ) -> std::result::Result<Option<T>, E> {
        let deadline = timeout.map(|t| Instant::now() + t);
        let mut state = self.lock();
        loop {
            let stream = live(&mut state, self.key)?;
            if let Some(err) = stream.failure.take() {
                return Err(err.into());
            }
            if let Some(front) = stream.results.front_mut() {
                let value = take(front)?;
                let done = stream.results.pop_front().expect("front");
                stream.spare_results.push(done);
                stream.stats.results_waiting = stream.results.len() as u64;
                drop(state);
                self.shared.work.notify_one();
                return Ok(Some(value));
            }
            // Results are made by the worker: on the worker itself (inside a
            // result callback) a wait could only stall or deadlock it.
            if self.shared.on_worker_thread() {
                return match deadline {
                    Some(_) => Ok(None),
                    None => Err(Error::Timeout(
                        "no result yet, and a poll from the session's worker thread (a result callback) cannot \
                         wait for one: poll with a timeout (it returns at once there) or from another thread"
                            .into(),
                    )
                    .into()),
                };
            }
            match deadline {
                None => self.shared.progress.wait(&mut state),
                Some(d) => {
                    if self.shared.progress.wait_until(&mut state, d).timed_out() {
                        let stream = live(&mut state, self.key)?;
                        if stream.results.is_empty() {
                            return Ok(None);
                        }
                    }
                }
            }
        }
    }

    /// Steps one frame on the calling thread, bypassing the worker: the
    /// lowest latency for a single camera. The stream must have no frames
    /// queued for the worker.
    pub fn process(&self, frame: &Frame, out: &mut FrameResult) -> Result<()> {
        frame.validate()?;
        let started = Instant::now();
        let shared = &self.shared;
        let info = shared.model.info();
        let (mut carry, init, mut buffer) = {
            let mut state = self.lock();
            let stream = live(&mut state, self.key)?;
            if let Some(err) = stream.failure.take() {
                return Err(err);
            }
            if !stream.frames.is_empty() || stream.carry.is_none() {
                return Err(Error::invalid(
                    "process() needs an idle stream: this one has frames queued by push(); poll them first",
                ));
            }
            check_episode_seed(&stream.next_init, info.init)?;
            let init = std::mem::replace(&mut stream.next_init, FrameInit::Continue);
            (stream.carry.take().expect("idle"), init, stream.spare_frames.pop())
        };
        let input = match &mut buffer {
            Some(b) => &mut b.input,
            None => {
                buffer = Some(QueuedFrame::with_capacity(3 * info.input_height * info.input_width));
                &mut buffer.as_mut().expect("set").input
            }
        };
        let label_size = shared.options.label_maps.then_some((frame.height, frame.width));
        let outcome = convert_into(frame, &shared.model.config().preprocess, input).and_then(|_| {
            let mut jobs = [Job { input, init: init.clone(), carry: &mut carry, result: out, label_size }];
            engine::run(&shared.serving.current(), &shared.engine, &mut jobs)
        });
        if outcome.is_ok() {
            shared.serving.record(self.key, out, input_of(&buffer), None);
        }
        let mut state = self.lock();
        let state = &mut *state;
        let Some(stream) = state.streams.get_mut(&self.key) else {
            return Err(closed("stream"));
        };
        stream.carry = Some(carry);
        stream.spare_frames.extend(buffer);
        if outcome.is_err() {
            stream.pass_on_init(init);
        }
        let closed_meanwhile = stream.closed;
        if closed_meanwhile {
            state.streams.remove(&self.key);
        }
        self.shared.progress.notify_all();
        outcome?;
        if closed_meanwhile {
            return Err(closed("stream"));
        }
        let stepped = SteppedFrame {
            timestamp_ns: frame.timestamp_ns,
            tag: frame.tag,
            queue_us: 0,
            total_us: started.elapsed().as_micros() as u64,
            counts_in: true,
        };
        let stream = state.streams.get_mut(&self.key).expect("present");
        let episodes = stream.carry.as_ref().map_or(0, |c| c.episodes);
        state.counters.record_batch(1);
        book_stepped_frame(stepped, out, &mut state.counters, Some((&mut stream.stats, episodes)));
        Ok(())
    }

    /// Results go to `callback` on the worker thread instead of the poll
    /// queue (None: back to polling). When this returns, no call to the
    /// previous callback is running (unless called from inside one).
    pub fn set_callback(&self, callback: Option<ResultCallback>) -> Result<()> {
        let mut state = self.lock();
        live(&mut state, self.key)?.callback = callback;
        self.wait_for_callbacks(state);
        Ok(())
    }

    pub fn stats(&self) -> Result<StreamStats> {
        let mut state = self.lock();
        let stream = live(&mut state, self.key)?;
        let mut stats = stream.stats;
        stats.queue_depth = stream.frames.len() as u64;
        stats.results_waiting = stream.results.len() as u64;
        Ok(stats)
    }

    /// Closes the stream: queued frames and unread results are discarded,
    /// and every later call on it fails with `Closed`. When it returns, no
    /// callback of this stream is running (unless called from one).
    /// Idempotent.
    pub fn close(&self) {
        let mut state = self.lock();
        let state_ref = &mut *state;
        if let Some(stream) = state_ref.streams.get_mut(&self.key) {
            stream.closed = true;
            stream.frames.clear();
            stream.results.clear();
            if stream.carry.is_some() && stream.callbacks_running == 0 {
                state_ref.streams.remove(&self.key);
            }
        }
        self.shared.space.notify_all();
        self.shared.progress.notify_all();
        self.wait_for_callbacks(state);
    }

    fn wait_for_callbacks(&self, mut state: MutexGuard<'_, State>) {
        if self.shared.on_worker_thread() {
            return;
        }
        while state.streams.get(&self.key).is_some_and(|s| s.callbacks_running > 0) {
            self.shared.progress.wait(&mut state);
        }
    }
}

impl Drop for Stream {
    fn drop(&mut self) {
        self.close();
    }
}

fn input_of(buffer: &Option<QueuedFrame>) -> &[f32] {
    buffer.as_ref().map_or(&[], |b| &b.input)
}

fn live(state: &mut State, key: u64) -> Result<&mut StreamState> {
    state.live_stream(key)
}

/// Instance masks must cover the frame. Any number of instances is fine:
/// the guided loss matches slots to instances by space-time IoU and leaves
/// the instances no slot matched (when there are more than slots) out.
fn check_masks(ids: &[u8], frame: &Frame) -> Result<()> {
    let needed = frame.width * frame.height;
    if ids.len() != needed {
        return Err(Error::invalid(format!(
            "instance masks hold {} ids, a {}x{} frame needs {needed}",
            ids.len(),
            frame.width,
            frame.height
        )));
    }
    Ok(())
}
