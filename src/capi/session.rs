//! Sessions: the streams of one model and the worker that batches them.

use std::ffi::{c_char, CStr};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::time::Duration;

use parking_lot::Mutex;

use super::boundary::{arg_mut, arg_ref, arg_slice, check_struct_size, guard, guard_value, CallError};
use super::enums::{SlotrtMaskRefinement, SlotrtMaskSource, SlotrtOverflow};
use super::frames::{check_result_buffers, frame_from_c, write_result, ResultSizes, SlotrtFrame, SlotrtResult};
use super::model::SlotrtModel;
use super::status::SlotrtStatus;
use crate::runtime::stats::LatencySummary;
use crate::runtime::{FrameResult, Session, SessionOptions};

/// A model's streams and the worker thread that steps them.
///
/// Thread safety: every function taking a session may be called from any
/// thread at any time; slotrt_session_step calls on one session run one
/// after another. slotrt_session_free must not race with other calls on
/// the same session; stream handles outlive it safely (their calls then
/// return SLOTRT_STATUS_CLOSED).
pub struct SlotrtSession {
    pub(crate) session: Session,
    step_results: Mutex<Vec<FrameResult>>,
}

#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct SlotrtSessionOptions {
    /// sizeof(slotrt_session_options); set by slotrt_session_options_init.
    pub struct_size: u32,
    /// Most frames (one per stream) stepped in one forward pass (1..=1024,
    /// default 8).
    pub max_batch: u32,
    /// Microseconds the worker waits after the first ready frame for other
    /// streams to fill the batch (default 2000, at most 1 s).
    pub max_wait_us: u32,
    /// Frames queued, and results held, per stream (1..=1024, default 4).
    pub queue_depth: u32,
    /// A slotrt_overflow value (default keep-latest).
    pub overflow: u32,
    /// Bit-identical results on every run: first-frame noise from `seed`,
    /// and the worker steps one frame at a time.
    pub deterministic: bool,
    /// Seed for first-frame slot noise in deterministic mode.
    pub seed: u64,
    /// Run the model once at creation so the first frame is not slow
    /// (default true).
    pub warmup: bool,
    /// A slotrt_mask_source value (default SLOTRT_MASK_SOURCE_MODEL).
    pub mask_source: u32,
    /// Also return a hard label map at each frame's own resolution.
    pub label_maps: bool,
    /// A slotrt_mask_refinement value (default SLOTRT_MASK_REFINEMENT_MODEL).
    /// Refined masks come at the model's input size:
    /// slotrt_session_get_mask_size says which size a session serves.
    pub mask_refinement: u32,
}

/// Latency percentiles over the most recent 4096 frames, microseconds.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct SlotrtLatency {
    pub samples: u64,
    pub p50_us: u64,
    pub p90_us: u64,
    pub p99_us: u64,
    pub max_us: u64,
}

#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct SlotrtSessionStats {
    /// Set to sizeof(slotrt_session_stats) before the call.
    pub struct_size: u32,
    pub streams_open: u64,
    pub frames_in: u64,
    pub frames_out: u64,
    /// Frames dropped from full queues (keep-latest).
    pub frames_dropped: u64,
    /// Results dropped because nobody polled them (keep-latest).
    pub results_dropped: u64,
    /// Forward passes, their mean and largest size.
    pub batches: u64,
    pub mean_batch: f64,
    pub largest_batch: u64,
    /// Per stage: waiting in the queue, the forward pass, push to result.
    pub queue: SlotrtLatency,
    pub model: SlotrtLatency,
    pub total: SlotrtLatency,
}

fn latency(s: LatencySummary) -> SlotrtLatency {
    SlotrtLatency { samples: s.samples, p50_us: s.p50_us, p90_us: s.p90_us, p99_us: s.p99_us, max_us: s.max_us }
}

/// Fills `options` with the defaults.
///
/// # Safety
/// `options` points to a writable slotrt_session_options.
#[no_mangle]
pub unsafe extern "C" fn slotrt_session_options_init(options: *mut SlotrtSessionOptions) -> SlotrtStatus {
    guard("slotrt_session_options_init", || {
        let out = unsafe { arg_mut(options, "options") }?;
        let d = SessionOptions::default();
        *out = SlotrtSessionOptions {
            struct_size: size_of::<SlotrtSessionOptions>() as u32,
            max_batch: d.max_batch as u32,
            max_wait_us: d.max_wait.as_micros() as u32,
            queue_depth: d.queue_depth as u32,
            overflow: SlotrtOverflow::raw(d.overflow),
            deterministic: d.deterministic,
            seed: d.seed,
            warmup: d.warmup,
            mask_source: SlotrtMaskSource::raw(d.mask_source),
            label_maps: d.label_maps,
            mask_refinement: SlotrtMaskRefinement::Model as u32,
        };
        Ok(())
    })
}

/// Creates a session on `model` (which may be freed afterwards: the
/// session keeps the weights). `options` may be NULL for the defaults.
/// Starts the session's worker thread.
///
/// # Safety
/// `model` is a live model; `options` is NULL or initialised;
/// `out_session` points to a writable pointer.
#[no_mangle]
pub unsafe extern "C" fn slotrt_session_create(
    model: *const SlotrtModel,
    options: *const SlotrtSessionOptions,
    out_session: *mut *mut SlotrtSession,
) -> SlotrtStatus {
    guard("slotrt_session_create", || {
        let model = unsafe { arg_ref(model, "model") }?;
        let out_session = unsafe { arg_mut(out_session, "out_session") }?;
        let mut opts = SessionOptions::default();
        if let Some(o) = unsafe { options.as_ref() } {
            check_struct_size(o.struct_size, size_of::<SlotrtSessionOptions>(), "options")?;
            opts = SessionOptions {
                max_batch: o.max_batch as usize,
                max_wait: Duration::from_micros(o.max_wait_us as u64),
                queue_depth: o.queue_depth as usize,
                overflow: SlotrtOverflow::parse(o.overflow, "options->overflow")?,
                deterministic: o.deterministic,
                seed: o.seed,
                warmup: o.warmup,
                mask_source: SlotrtMaskSource::parse(o.mask_source, "options->mask_source")?,
                label_maps: o.label_maps,
                mask_refinement: SlotrtMaskRefinement::parse(o.mask_refinement, "options->mask_refinement")?,
            };
        }
        let session = Session::new(model.model.clone(), opts)?;
        *out_session = Box::into_raw(Box::new(SlotrtSession { session, step_results: Mutex::new(Vec::new()) }));
        Ok(())
    })
}

/// The size of the masks this session's results carry (decoder or
/// attention masks, per its options).
///
/// # Safety
/// `session` is a live session; the out pointers are writable.
#[no_mangle]
pub unsafe extern "C" fn slotrt_session_get_mask_size(
    session: *const SlotrtSession,
    out_height: *mut u32,
    out_width: *mut u32,
) -> SlotrtStatus {
    guard("slotrt_session_get_mask_size", || {
        let s = unsafe { arg_ref(session, "session") }?;
        let h = unsafe { arg_mut(out_height, "out_height") }?;
        let w = unsafe { arg_mut(out_width, "out_width") }?;
        let (mh, mw) = s.session.mask_size();
        *h = mh as u32;
        *w = mw as u32;
        Ok(())
    })
}

/// Steps N environments of a vectorised environment at once, on the
/// calling thread: frame i belongs to lane i (lanes are created on first
/// use and carry their slots between calls). Set reset_mask[i] non-zero on
/// the first observation of an episode (gymnasium autoreset: the
/// observation returned by reset, or the one after an episode ended) to
/// start lane i with fresh slots. results[i] gets lane i's result. Any
/// invalid frame or too-small buffer fails the whole call before anything
/// changes.
///
/// # Safety
/// `frames`, `reset_mask` and `results` point to `n` elements each.
#[no_mangle]
pub unsafe extern "C" fn slotrt_session_step(
    session: *const SlotrtSession,
    n: usize,
    frames: *const SlotrtFrame,
    reset_mask: *const u8,
    results: *mut SlotrtResult,
) -> SlotrtStatus {
    guard("slotrt_session_step", || {
        let s = unsafe { arg_ref(session, "session") }?;
        if n == 0 || n > crate::runtime::options::MAX_BATCH {
            return Err(CallError::new(
                SlotrtStatus::InvalidArgument,
                format!("`n` = {n} must be in 1..={}", crate::runtime::options::MAX_BATCH),
            ));
        }
        let c_frames = unsafe { arg_slice(frames, n, "frames") }?;
        let resets = unsafe { arg_slice(reset_mask, n, "reset_mask") }?;
        if results.is_null() {
            return Err(CallError::new(SlotrtStatus::NullArgument, "argument `results` is NULL"));
        }
        let outs = unsafe { std::slice::from_raw_parts_mut(results, n) };
        let mut frames = Vec::with_capacity(n);
        for (i, f) in c_frames.iter().enumerate() {
            frames.push(unsafe { frame_from_c(f, &format!("frames[{i}]")) }?);
        }
        let info = s.session.model().info();
        let (mh, mw) = s.session.mask_size();
        let labels = s.session.options().label_maps;
        for (i, (out, f)) in outs.iter().zip(&frames).enumerate() {
            let sizes = ResultSizes {
                slots: info.num_slots * info.slot_dim,
                masks: info.num_slots * mh * mw,
                per_slot: info.num_slots,
                labels: if labels { f.width * f.height } else { 0 },
            };
            check_result_buffers(out, sizes, &format!("results[{i}]"))?;
        }
        let reset: Vec<bool> = resets.iter().map(|&r| r != 0).collect();
        let mut scratch = s.step_results.lock();
        scratch.resize_with(n, FrameResult::default);
        s.session.step(&frames, &reset, &mut scratch[..n])?;
        for (r, out) in scratch.iter().zip(outs.iter_mut()) {
            unsafe { write_result(r, out) };
        }
        Ok(())
    })
}

/// Session-wide counters and latency percentiles. Thread-safe.
///
/// # Safety
/// `session` is a live session; `out` is writable with struct_size set.
#[no_mangle]
pub unsafe extern "C" fn slotrt_session_get_stats(
    session: *const SlotrtSession,
    out: *mut SlotrtSessionStats,
) -> SlotrtStatus {
    guard("slotrt_session_get_stats", || {
        let s = unsafe { arg_ref(session, "session") }?;
        let out = unsafe { arg_mut(out, "out") }?;
        check_struct_size(out.struct_size, size_of::<SlotrtSessionStats>(), "out")?;
        let st = s.session.stats();
        *out = SlotrtSessionStats {
            struct_size: out.struct_size,
            streams_open: st.streams_open,
            frames_in: st.frames_in,
            frames_out: st.frames_out,
            frames_dropped: st.frames_dropped,
            results_dropped: st.results_dropped,
            batches: st.batches,
            mean_batch: st.mean_batch,
            largest_batch: st.largest_batch,
            queue: latency(st.queue),
            model: latency(st.model),
            total: latency(st.total),
        };
        Ok(())
    })
}

/// Saves the weights serving now as a bundle (the description notes the
/// fine-tuning).
///
/// # Safety
/// `session` is live; `path` is a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn slotrt_session_save_model(session: *const SlotrtSession, path: *const c_char) -> SlotrtStatus {
    guard("slotrt_session_save_model", || {
        let s = unsafe { arg_ref(session, "session") }?;
        let path = unsafe { CStr::from_ptr(arg_ref(path, "path")?) };
        s.session.save_model(Path::new(std::ffi::OsStr::from_bytes(path.to_bytes())))?;
        Ok(())
    })
}

/// Stops the worker, closes every stream (their handles stay valid until
/// freed; calls on them return SLOTRT_STATUS_CLOSED) and frees the
/// session. NULL is a no-op.
///
/// # Safety
/// `session` is NULL or a session not yet freed, and no other thread uses
/// it during this call.
#[no_mangle]
pub unsafe extern "C" fn slotrt_session_free(session: *mut SlotrtSession) {
    guard_value("slotrt_session_free", (), || {
        if !session.is_null() {
            drop(unsafe { Box::from_raw(session) });
        }
    })
}
