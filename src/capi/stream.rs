//! Streams: one camera or environment each; push + poll, callbacks, or a
//! synchronous process call.

use std::ffi::c_void;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;

use super::boundary::{arg_mut, arg_ref, arg_slice, check_struct_size, guard, guard_value, CallError};
use super::frames::{
    check_result_buffers, frame_arg, result_view, write_result, ResultSizes, SlotrtResult, SlotrtResultView,
};
use super::session::SlotrtSession;
use super::status::SlotrtStatus;
use crate::runtime::{FrameResult, Stream};

/// Pass as `timeout_ms` to wait without limit.
pub const SLOTRT_WAIT_FOREVER: u32 = u32::MAX;

/// Receives each result of a stream on the session's worker thread.
/// `result` and its buffers are valid only during the call. The callback
/// may call slotrt functions on other streams, or push to its own; it must
/// not free its own stream or the session. Nothing the worker itself would
/// have to do can be waited for there: a push to a full BLOCK queue
/// returns SLOTRT_STATUS_QUEUE_FULL (frame not queued) instead of waiting,
/// and a poll returns at once (SLOTRT_STATUS_TIMEOUT when no result is
/// ready, also with SLOTRT_WAIT_FOREVER).
pub type SlotrtResultCallback = Option<unsafe extern "C" fn(result: *const SlotrtResultView, user_data: *mut c_void)>;

/// One stream of frames (a camera, an environment). Its slots carry over
/// from frame to frame, so slot k keeps following the same object.
///
/// Thread safety: any function may be called on a stream from any thread,
/// also concurrently (one thread pushing while another polls is the usual
/// pattern); results come out in push order. Views from
/// slotrt_stream_poll_view stay valid until the next poll on the stream,
/// so poll one stream from one thread at a time when using views.
pub struct SlotrtStream {
    pub(crate) stream: Stream,
    /// Backs the views of slotrt_stream_poll_view.
    viewed: Mutex<FrameResult>,
    /// process() results on their way to the caller's buffers.
    scratch: Mutex<FrameResult>,
}

#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct SlotrtStreamStats {
    /// Set to sizeof(slotrt_stream_stats) before the call.
    pub struct_size: u32,
    pub frames_in: u64,
    pub frames_out: u64,
    /// Frames dropped from the full queue (keep-latest).
    pub frames_dropped: u64,
    /// Results dropped because they were not polled in time (keep-latest).
    pub results_dropped: u64,
    /// Frames waiting now; results waiting to be polled now.
    pub queue_depth: u64,
    pub results_waiting: u64,
    pub episodes: u64,
}

fn timeout(ms: u32) -> Option<Duration> {
    (ms != SLOTRT_WAIT_FOREVER).then(|| Duration::from_millis(ms as u64))
}

fn timed_out(ms: u32) -> CallError {
    CallError::new(SlotrtStatus::Timeout, format!("no result within {ms} ms"))
}

/// Opens a stream on `session`. Free it with slotrt_stream_free.
///
/// # Safety
/// `session` is a live session; `out_stream` points to a writable pointer.
#[no_mangle]
pub unsafe extern "C" fn slotrt_stream_open(
    session: *const SlotrtSession,
    out_stream: *mut *mut SlotrtStream,
) -> SlotrtStatus {
    guard("slotrt_stream_open", || {
        let s = unsafe { arg_ref(session, "session") }?;
        let out = unsafe { arg_mut(out_stream, "out_stream") }?;
        let stream = s.session.open_stream()?;
        *out = Box::into_raw(Box::new(SlotrtStream {
            stream,
            viewed: Mutex::new(FrameResult::default()),
            scratch: Mutex::new(FrameResult::default()),
        }));
        Ok(())
    })
}

/// Queues a frame for the session's worker. The pixels are converted
/// during the call and not read afterwards. On a full queue, keep-latest
/// drops the oldest queued frame; block waits for room, except on the
/// session's worker thread (a result callback), where it returns
/// SLOTRT_STATUS_QUEUE_FULL and queues nothing. An invalid frame
/// (SLOTRT_STATUS_INVALID_ARGUMENT, UNKNOWN_ENUM, NULL_ARGUMENT,
/// STRUCT_SIZE) changes nothing.
///
/// # Safety
/// `stream` is a live stream handle; `frame` describes readable memory.
#[no_mangle]
pub unsafe extern "C" fn slotrt_stream_push(
    stream: *const SlotrtStream,
    frame: *const super::frames::SlotrtFrame,
) -> SlotrtStatus {
    guard("slotrt_stream_push", || {
        let s = unsafe { arg_ref(stream, "stream") }?;
        let frame = unsafe { frame_arg(frame, "frame") }?;
        s.stream.push(&frame)?;
        Ok(())
    })
}

/// slotrt_stream_push with the frame's instance masks: `ids` holds one id
/// per pixel of the frame (width * height bytes, 0 = background), any
/// number of distinct ids. Guided fine-tuning learns from them; it matches
/// slots to instances (background included) over short clips of a stream's
/// consecutive frames by space-time IoU (Hungarian), so an id must name the
/// same object in every frame (as a simulator's instance ids do); with more
/// instances than slots, the instances no slot matched stay out of the loss.
///
/// # Safety
/// `stream` is live; `frame` describes readable memory; `ids` holds `len` bytes.
#[no_mangle]
pub unsafe extern "C" fn slotrt_stream_push_with_masks(
    stream: *const SlotrtStream,
    frame: *const super::frames::SlotrtFrame,
    ids: *const u8,
    len: usize,
) -> SlotrtStatus {
    guard("slotrt_stream_push_with_masks", || {
        let s = unsafe { arg_ref(stream, "stream") }?;
        let frame = unsafe { frame_arg(frame, "frame") }?;
        if ids.is_null() {
            return Err(CallError::new(SlotrtStatus::NullArgument, "argument `ids` is NULL"));
        }
        let ids = unsafe { arg_slice(ids, len, "ids") }?;
        s.stream.push_with_masks(&frame, ids)?;
        Ok(())
    })
}

/// Takes the oldest result into the caller's buffers, waiting up to
/// `timeout_ms` (0: do not wait; SLOTRT_WAIT_FOREVER). Returns
/// SLOTRT_STATUS_TIMEOUT when none arrived; SLOTRT_STATUS_BUFFER_TOO_SMALL
/// leaves the result queued.
///
/// # Safety
/// `stream` is a live stream handle; `result`'s buffers hold their capacities.
#[no_mangle]
pub unsafe extern "C" fn slotrt_stream_poll(
    stream: *const SlotrtStream,
    timeout_ms: u32,
    result: *mut SlotrtResult,
) -> SlotrtStatus {
    guard("slotrt_stream_poll", || {
        let s = unsafe { arg_ref(stream, "stream") }?;
        let out = unsafe { arg_mut(result, "result") }?;
        check_struct_size(out.struct_size, size_of::<SlotrtResult>(), "result")?;
        let taken = s.stream.poll_with(timeout(timeout_ms), |r| {
            check_result_buffers(out, ResultSizes::of(r), "result")?;
            unsafe { write_result(r, out) };
            Ok::<(), CallError>(())
        })?;
        match taken {
            Some(()) => Ok(()),
            None => Err(timed_out(timeout_ms)),
        }
    })
}

/// Like slotrt_stream_poll, but points `view` at library-owned memory
/// valid until the next poll on this stream (or until it is freed).
///
/// # Safety
/// `stream` is a live stream handle; `view` is writable with struct_size set.
#[no_mangle]
pub unsafe extern "C" fn slotrt_stream_poll_view(
    stream: *const SlotrtStream,
    timeout_ms: u32,
    view: *mut SlotrtResultView,
) -> SlotrtStatus {
    guard("slotrt_stream_poll_view", || {
        let s = unsafe { arg_ref(stream, "stream") }?;
        let out = unsafe { arg_mut(view, "view") }?;
        check_struct_size(out.struct_size, size_of::<SlotrtResultView>(), "view")?;
        let mut viewed = s.viewed.lock();
        if !s.stream.poll(timeout(timeout_ms), &mut viewed)? {
            return Err(timed_out(timeout_ms));
        }
        *out = result_view(&viewed);
        Ok(())
    })
}

/// Steps one frame on the calling thread (no queue, no worker): the lowest
/// latency for one camera. The stream must have no frames pushed and not
/// yet polled (SLOTRT_STATUS_INVALID_ARGUMENT otherwise). Buffers are
/// checked before the frame is stepped.
///
/// # Safety
/// `stream` is a live stream handle; `frame` describes readable memory;
/// `result`'s buffers hold their capacities.
#[no_mangle]
pub unsafe extern "C" fn slotrt_stream_process(
    stream: *const SlotrtStream,
    frame: *const super::frames::SlotrtFrame,
    result: *mut SlotrtResult,
) -> SlotrtStatus {
    guard("slotrt_stream_process", || {
        let s = unsafe { arg_ref(stream, "stream") }?;
        let frame = unsafe { frame_arg(frame, "frame") }?;
        let out = unsafe { arg_mut(result, "result") }?;
        let info = s.stream_model_info();
        let (mh, mw) = s.stream.mask_size();
        let sizes = ResultSizes {
            slots: info.0 * info.1,
            masks: info.0 * mh * mw,
            per_slot: info.0,
            labels: if s.stream.label_maps() { frame.width * frame.height } else { 0 },
        };
        check_result_buffers(out, sizes, "result")?;
        let mut scratch = s.scratch.lock();
        s.stream.process(&frame, &mut scratch)?;
        unsafe { write_result(&scratch, out) };
        Ok(())
    })
}

impl SlotrtStream {
    pub(crate) fn stream_model_info(&self) -> (usize, usize) {
        let info = self.stream.model_info();
        (info.num_slots, info.slot_dim)
    }
}

/// The C callback and its user data, handed to the worker thread.
struct CCallback {
    func: unsafe extern "C" fn(*const SlotrtResultView, *mut c_void),
    user_data: *mut c_void,
}

impl CCallback {
    fn call(&self, view: &SlotrtResultView) {
        unsafe { (self.func)(view, self.user_data) };
    }
}

// SAFETY: the caller of slotrt_stream_set_callback promises that the
// callback may run on the worker thread with this user_data.
unsafe impl Send for CCallback {}
unsafe impl Sync for CCallback {}

/// Sends this stream's results to `callback` on the session's worker
/// thread instead of the poll queue; NULL goes back to polling. When this
/// returns, no call of the previous callback is running (unless it is
/// called from inside that callback), so its user_data may be freed.
///
/// # Safety
/// `stream` is a live stream handle; `callback` is safe to call from
/// another thread with `user_data` until replaced or the stream is closed.
#[no_mangle]
pub unsafe extern "C" fn slotrt_stream_set_callback(
    stream: *const SlotrtStream,
    callback: SlotrtResultCallback,
    user_data: *mut c_void,
) -> SlotrtStatus {
    guard("slotrt_stream_set_callback", || {
        let s = unsafe { arg_ref(stream, "stream") }?;
        let cb = callback.map(|func| {
            let c = CCallback { func, user_data };
            Arc::new(move |r: &FrameResult| {
                let view = result_view(r);
                c.call(&view);
            }) as crate::runtime::ResultCallback
        });
        s.stream.set_callback(cb)?;
        Ok(())
    })
}

/// This stream's counters.
///
/// # Safety
/// `stream` is a live stream handle; `out` is writable with struct_size set.
#[no_mangle]
pub unsafe extern "C" fn slotrt_stream_get_stats(
    stream: *const SlotrtStream,
    out: *mut SlotrtStreamStats,
) -> SlotrtStatus {
    guard("slotrt_stream_get_stats", || {
        let s = unsafe { arg_ref(stream, "stream") }?;
        let out = unsafe { arg_mut(out, "out") }?;
        check_struct_size(out.struct_size, size_of::<SlotrtStreamStats>(), "out")?;
        let st = s.stream.stats()?;
        *out = SlotrtStreamStats {
            struct_size: out.struct_size,
            frames_in: st.frames_in,
            frames_out: st.frames_out,
            frames_dropped: st.frames_dropped,
            results_dropped: st.results_dropped,
            queue_depth: st.queue_depth,
            results_waiting: st.results_waiting,
            episodes: st.episodes,
        };
        Ok(())
    })
}

/// Closes the stream: queued frames and unread results are discarded and
/// later calls on it return SLOTRT_STATUS_CLOSED. The handle stays valid
/// until slotrt_stream_free. When this returns no callback of the stream is
/// running (unless called from one). Closing twice is fine.
///
/// # Safety
/// `stream` is a live stream handle.
#[no_mangle]
pub unsafe extern "C" fn slotrt_stream_close(stream: *const SlotrtStream) -> SlotrtStatus {
    guard("slotrt_stream_close", || {
        unsafe { arg_ref(stream, "stream") }?.stream.close();
        Ok(())
    })
}

/// Closes (if needed) and frees a stream handle. NULL is a no-op. Safe
/// after the session was freed.
///
/// # Safety
/// `stream` is NULL or a handle not yet freed, not in use by other threads.
#[no_mangle]
pub unsafe extern "C" fn slotrt_stream_free(stream: *mut SlotrtStream) {
    guard_value("slotrt_stream_free", (), || {
        if !stream.is_null() {
            drop(unsafe { Box::from_raw(stream) });
        }
    })
}
