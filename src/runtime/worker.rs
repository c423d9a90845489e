//! The session's worker thread: waits for ready frames, takes one from each
//! of up to `max_batch` streams (round robin), steps them in one forward
//! pass, and hands each stream its result (poll queue or callback).

use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Instant;

use super::carry::{Carry, EpisodeSeed, FrameInit};
use super::engine::{self, Job};
use super::model::InitKind;
use super::options::{OverflowPolicy, SessionOptions};
use super::result::FrameResult;
use super::shared::{QueuedFrame, ResultCallback, Shared, State, StreamState};
use super::stats::{book_stepped_frame, SteppedFrame};
use crate::error::{Error, Result};

/// Starts the worker thread of `shared`'s session.
pub(crate) fn spawn(shared: &Arc<Shared>) -> Result<JoinHandle<()>> {
    let for_worker = Arc::clone(shared);
    let worker = std::thread::Builder::new()
        .name("slotrt-worker".into())
        .spawn(move || worker_loop(&for_worker))
        .map_err(|e| Error::Internal(format!("cannot start the worker thread: {e}")))?;
    *shared.worker_thread.lock() = Some(worker.thread().id());
    Ok(worker)
}

/// Runs the model once per batch size the worker will use, so the first
/// real frames do not pay for libtorch's lazy initialisation.
pub(crate) fn warm_up(shared: &Shared) -> Result<()> {
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
            engine::run(&shared.serving.current(), &shared.engine, &mut jobs)?;
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
        let failure = step_batch(shared, &mut taken).err();
        let done = Instant::now();
        if failure.is_none() {
            for t in &taken {
                shared.serving.record(t.key, &t.result, &t.frame.input, t.frame.guide.as_deref());
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
            let stepped = SteppedFrame {
                timestamp_ns: frame.timestamp_ns,
                tag: frame.tag,
                queue_us: batch_start.duration_since(frame.pushed).as_micros() as u64,
                total_us: done.duration_since(frame.pushed).as_micros() as u64,
                counts_in: false,
            };
            stream.spare_frames.push(frame);
            if let Some(err) = &failure {
                stream.pass_on_init(init);
                // Every stream of the batch gets the failure, kind intact.
                stream.failure = Some(err.duplicate());
                stream.spare_results.push(result);
                continue;
            }
            let episodes = stream.carry.as_ref().map_or(0, |c| c.episodes);
            book_stepped_frame(stepped, &mut result, &mut state.counters, Some((&mut stream.stats, episodes)));
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
                let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| cb(result)));
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

/// One forward pass over the taken frames. On failure the carries are
/// untouched and each frame keeps its episode start, so the stream's next
/// frame inherits it.
fn step_batch(shared: &Shared, taken: &mut [Taken]) -> Result<()> {
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
    let outcome = engine::run(&shared.serving.current(), &shared.engine, &mut jobs);
    if outcome.is_err() {
        let inits: Vec<FrameInit> =
            jobs.iter_mut().map(|j| std::mem::replace(&mut j.init, FrameInit::Continue)).collect();
        drop(jobs);
        for (t, init) in taken.iter_mut().zip(inits) {
            t.frame.init = init;
        }
    }
    outcome.map(|_| ())
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
