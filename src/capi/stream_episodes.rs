//! A stream's episodes and carried slots for C callers: reset, seeding
//! from slots or boxes, and reading or replacing the carried state.

use super::boundary::{arg_ref, arg_slice, guard, out_buffer};
use super::status::SlotrtStatus;
use super::stream::SlotrtStream;

/// Starts a new episode at the next pushed or processed frame: fresh
/// slots and new slot ids. Frames already queued finish the old episode.
///
/// # Safety
/// `stream` is a live stream handle.
#[no_mangle]
pub unsafe extern "C" fn slotrt_stream_reset(stream: *const SlotrtStream) -> SlotrtStatus {
    guard("slotrt_stream_reset", || {
        unsafe { arg_ref(stream, "stream") }?.stream.reset()?;
        Ok(())
    })
}

/// Copies the carried slots (num_slots * slot_dim floats: the initial
/// slots of the frame after the last one stepped) into `out`. Waits while
/// a frame of this stream is being stepped; frames still queued are not
/// reflected. SLOTRT_STATUS_INVALID_ARGUMENT before the first frame.
///
/// # Safety
/// `stream` is a live stream handle; `out` holds `capacity` floats.
#[no_mangle]
pub unsafe extern "C" fn slotrt_stream_get_state(
    stream: *const SlotrtStream,
    out: *mut f32,
    capacity: usize,
) -> SlotrtStatus {
    guard("slotrt_stream_get_state", || {
        let s = unsafe { arg_ref(stream, "stream") }?;
        let (k, d) = s.stream_model_info();
        let out = unsafe { out_buffer(out, capacity, k * d, "out") }?;
        s.stream.state(out)?;
        Ok(())
    })
}

/// Continues the episode from the given slots (num_slots * slot_dim
/// floats) at the next frame: a world model's prediction, or a state saved
/// with slotrt_stream_get_state.
///
/// # Safety
/// `stream` is a live stream handle; `slots` holds `len` floats.
#[no_mangle]
pub unsafe extern "C" fn slotrt_stream_set_state(
    stream: *const SlotrtStream,
    slots: *const f32,
    len: usize,
) -> SlotrtStatus {
    guard("slotrt_stream_set_state", || {
        let s = unsafe { arg_ref(stream, "stream") }?;
        let slots = unsafe { arg_slice(slots, len, "slots") }?;
        s.stream.set_state(slots)?;
        Ok(())
    })
}

/// Starts a new episode at the next frame from given slots (num_slots *
/// slot_dim floats).
///
/// # Safety
/// `stream` is a live stream handle; `slots` holds `len` floats.
#[no_mangle]
pub unsafe extern "C" fn slotrt_stream_seed_slots(
    stream: *const SlotrtStream,
    slots: *const f32,
    len: usize,
) -> SlotrtStatus {
    guard("slotrt_stream_seed_slots", || {
        let s = unsafe { arg_ref(stream, "stream") }?;
        let slots = unsafe { arg_slice(slots, len, "slots") }?;
        s.stream.seed_slots(slots)?;
        Ok(())
    })
}

/// Starts a new episode at the next frame from boxes, num_slots * 4 floats:
/// (y_min, x_min, y_max, x_max) in [0, 1] per slot, a zero box for an
/// unused slot. Conditional models only (SLOTRT_STATUS_UNSUPPORTED
/// otherwise); they need this before each episode's first frame.
///
/// # Safety
/// `stream` is a live stream handle; `boxes` holds `len` floats.
#[no_mangle]
pub unsafe extern "C" fn slotrt_stream_seed_boxes(
    stream: *const SlotrtStream,
    boxes: *const f32,
    len: usize,
) -> SlotrtStatus {
    guard("slotrt_stream_seed_boxes", || {
        let s = unsafe { arg_ref(stream, "stream") }?;
        let boxes = unsafe { arg_slice(boxes, len, "boxes") }?;
        s.stream.seed_boxes(boxes)?;
        Ok(())
    })
}
