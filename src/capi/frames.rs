//! Frames in and results out, as C structs: caller memory described by
//! pointer, sizes, stride and format; results into caller-owned buffers or
//! through a library-owned view.

use std::ffi::c_void;

use super::boundary::{arg_mut, arg_ref, check_struct_size, guard, CallError, CallResult};
use super::enums::SlotrtPixelFormat;
use super::status::SlotrtStatus;
use crate::runtime::frame::check_geometry;
use crate::runtime::{Frame, FrameResult};

/// One frame in caller memory. The library reads it only during the call
/// it is passed to (push, process, step) and never keeps the pointer.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct SlotrtFrame {
    /// sizeof(slotrt_frame); set by slotrt_frame_init.
    pub struct_size: u32,
    /// A slotrt_pixel_format value.
    pub format: u32,
    /// Size in pixels, 1..=16384 each.
    pub width: u32,
    pub height: u32,
    /// Bytes from the start of one row to the next (>= width * bytes per
    /// pixel; larger for padded rows).
    pub stride: usize,
    /// The first byte of the first row.
    pub data: *const c_void,
    /// Capture time in any clock of the caller's; returned with the result.
    pub timestamp_ns: i64,
    /// Any value; returned with the result.
    pub tag: u64,
}

/// Facts about one result (the same in buffers and views).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct SlotrtResultInfo {
    /// Position of the frame in its stream (0, 1, ...).
    pub frame_index: u64,
    /// Episode number within the stream (each reset starts the next one).
    pub episode: u64,
    /// The frame's timestamp and tag, as pushed.
    pub timestamp_ns: i64,
    pub tag: u64,
    pub num_slots: u32,
    pub slot_dim: u32,
    pub mask_height: u32,
    pub mask_width: u32,
    /// Size of the label map (the frame's own size), 0 without label maps.
    pub label_height: u32,
    pub label_width: u32,
    /// True when this frame started its episode with fresh slots.
    pub starts_episode: bool,
    /// Microseconds from push to the start of the frame's batch (0 for
    /// synchronous calls), in the forward pass, and from push (or the
    /// call) to the result being ready.
    pub queue_us: u64,
    pub model_us: u64,
    pub total_us: u64,
}

/// Caller-owned buffers a result is written into. Each buffer may be NULL
/// to skip that output; a non-NULL one must hold at least:
///  - slots: num_slots * slot_dim floats (slot k is row k),
///  - masks: num_slots * mask_height * mask_width floats (soft masks that
///    sum to 1 over slots at each pixel),
///  - active: num_slots bytes (1 = the slot holds an object),
///  - slot_ids: num_slots ids (stable while a slot follows its object),
///  - labels: label_height * label_width bytes (argmax slot per pixel of
///    the frame; only with slotrt_session_options.label_maps).
/// Sizes come from slotrt_model_get_info and slotrt_session_get_mask_size.
/// A buffer that is too small gives SLOTRT_STATUS_BUFFER_TOO_SMALL and the
/// result stays queued (nothing is lost).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct SlotrtResult {
    /// sizeof(slotrt_result).
    pub struct_size: u32,
    pub slots: *mut f32,
    pub slots_capacity: usize,
    pub masks: *mut f32,
    pub masks_capacity: usize,
    pub active: *mut u8,
    pub active_capacity: usize,
    pub slot_ids: *mut u32,
    pub slot_ids_capacity: usize,
    pub labels: *mut u8,
    pub labels_capacity: usize,
    /// Written by the library.
    pub info: SlotrtResultInfo,
}

/// A result in library-owned memory. The pointers stay valid until the
/// next poll on the same stream, or until the stream is freed; inside a
/// callback, until the callback returns.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct SlotrtResultView {
    /// sizeof(slotrt_result_view).
    pub struct_size: u32,
    pub slots: *const f32,
    pub masks: *const f32,
    pub active: *const u8,
    pub slot_ids: *const u32,
    /// NULL without label maps.
    pub labels: *const u8,
    pub info: SlotrtResultInfo,
}

/// Borrows a C frame as a `Frame`, checking everything checkable first.
///
/// # Safety
/// `frame.data` points to the bytes its geometry describes.
pub(crate) unsafe fn frame_from_c<'a>(frame: &'a SlotrtFrame, name: &str) -> CallResult<Frame<'a>> {
    check_struct_size(frame.struct_size, size_of::<SlotrtFrame>(), name)?;
    let format = SlotrtPixelFormat::parse(frame.format, &format!("{name}->format"))?;
    if frame.data.is_null() {
        return Err(CallError::new(SlotrtStatus::NullArgument, format!("`{name}->data` is NULL")));
    }
    let (w, h) = (frame.width as usize, frame.height as usize);
    check_geometry(w, h, frame.stride, format)
        .map_err(|e| CallError::new(SlotrtStatus::InvalidArgument, format!("{name}: {e}")))?;
    let len = format.required_bytes(w, h, frame.stride);
    let data = unsafe { std::slice::from_raw_parts(frame.data as *const u8, len) };
    Ok(Frame {
        data,
        width: w,
        height: h,
        stride: frame.stride,
        format,
        timestamp_ns: frame.timestamp_ns,
        tag: frame.tag,
    })
}

/// # Safety
/// `frame` is NULL or points to a readable slotrt_frame whose data is valid.
pub(crate) unsafe fn frame_arg<'a>(frame: *const SlotrtFrame, name: &str) -> CallResult<Frame<'a>> {
    let frame = unsafe { arg_ref(frame, name) }?;
    unsafe { frame_from_c(frame, name) }
}

pub(crate) fn result_info(r: &FrameResult) -> SlotrtResultInfo {
    SlotrtResultInfo {
        frame_index: r.frame_index,
        episode: r.episode,
        timestamp_ns: r.timestamp_ns,
        tag: r.tag,
        num_slots: r.num_slots as u32,
        slot_dim: r.slot_dim as u32,
        mask_height: r.mask_height as u32,
        mask_width: r.mask_width as u32,
        label_height: r.label_height as u32,
        label_width: r.label_width as u32,
        starts_episode: r.starts_episode,
        queue_us: r.latency.queue_us,
        model_us: r.latency.model_us,
        total_us: r.latency.total_us,
    }
}

/// A view of `r`; valid as long as `r` is not changed or dropped.
pub(crate) fn result_view(r: &FrameResult) -> SlotrtResultView {
    SlotrtResultView {
        struct_size: size_of::<SlotrtResultView>() as u32,
        slots: r.slots.as_ptr(),
        masks: r.masks.as_ptr(),
        active: r.active.as_ptr(),
        slot_ids: r.slot_ids.as_ptr(),
        labels: if r.labels.is_empty() { std::ptr::null() } else { r.labels.as_ptr() },
        info: result_info(r),
    }
}

/// Sizes a result will need: (slots, masks, slot-count, labels).
#[derive(Clone, Copy, Debug)]
pub(crate) struct ResultSizes {
    pub slots: usize,
    pub masks: usize,
    pub per_slot: usize,
    pub labels: usize,
}

impl ResultSizes {
    pub fn of(r: &FrameResult) -> Self {
        ResultSizes { slots: r.slots.len(), masks: r.masks.len(), per_slot: r.num_slots, labels: r.labels.len() }
    }
}

/// Checks every non-NULL buffer of `out` against `sizes` before anything
/// is written.
pub(crate) fn check_result_buffers(out: &SlotrtResult, sizes: ResultSizes, name: &str) -> CallResult {
    check_struct_size(out.struct_size, size_of::<SlotrtResult>(), name)?;
    let check = |ptr_null: bool, capacity: usize, needed: usize, field: &str| -> CallResult {
        if !ptr_null && capacity < needed {
            return Err(CallError::new(
                SlotrtStatus::BufferTooSmall,
                format!("`{name}->{field}` holds {capacity} elements, {needed} are needed"),
            ));
        }
        Ok(())
    };
    check(out.slots.is_null(), out.slots_capacity, sizes.slots, "slots")?;
    check(out.masks.is_null(), out.masks_capacity, sizes.masks, "masks")?;
    check(out.active.is_null(), out.active_capacity, sizes.per_slot, "active")?;
    check(out.slot_ids.is_null(), out.slot_ids_capacity, sizes.per_slot, "slot_ids")?;
    check(out.labels.is_null(), out.labels_capacity, sizes.labels, "labels")?;
    Ok(())
}

/// Copies `r` into the caller's buffers (checked by `check_result_buffers`).
///
/// # Safety
/// Non-NULL buffers of `out` hold their stated capacities.
pub(crate) unsafe fn write_result(r: &FrameResult, out: &mut SlotrtResult) {
    unsafe fn copy<T: Copy>(src: &[T], dst: *mut T) {
        if !dst.is_null() && !src.is_empty() {
            unsafe { std::ptr::copy_nonoverlapping(src.as_ptr(), dst, src.len()) };
        }
    }
    unsafe {
        copy(&r.slots, out.slots);
        copy(&r.masks, out.masks);
        copy(&r.active, out.active);
        copy(&r.slot_ids, out.slot_ids);
        copy(&r.labels, out.labels);
    }
    out.info = result_info(r);
}

/// Fills a frame descriptor for tightly packed rows (stride = width *
/// bytes per pixel) and sets its struct_size; timestamp and tag are 0.
///
/// # Safety
/// `frame` points to a writable slotrt_frame.
#[no_mangle]
pub unsafe extern "C" fn slotrt_frame_init(
    frame: *mut SlotrtFrame,
    data: *const c_void,
    width: u32,
    height: u32,
    format: u32,
) -> SlotrtStatus {
    guard("slotrt_frame_init", || {
        let out = unsafe { arg_mut(frame, "frame") }?;
        let pixel = SlotrtPixelFormat::parse(format, "format")?;
        *out = SlotrtFrame {
            struct_size: size_of::<SlotrtFrame>() as u32,
            format,
            width,
            height,
            stride: width as usize * pixel.bytes_per_pixel(),
            data,
            timestamp_ns: 0,
            tag: 0,
        };
        Ok(())
    })
}

/// Sets `result`'s struct_size and points its buffers at NULL (skip all);
/// set the buffers you want afterwards.
///
/// # Safety
/// `result` points to a writable slotrt_result.
#[no_mangle]
pub unsafe extern "C" fn slotrt_result_init(result: *mut SlotrtResult) -> SlotrtStatus {
    guard("slotrt_result_init", || {
        let out = unsafe { arg_mut(result, "result") }?;
        *out = SlotrtResult {
            struct_size: size_of::<SlotrtResult>() as u32,
            slots: std::ptr::null_mut(),
            slots_capacity: 0,
            masks: std::ptr::null_mut(),
            masks_capacity: 0,
            active: std::ptr::null_mut(),
            active_capacity: 0,
            slot_ids: std::ptr::null_mut(),
            slot_ids_capacity: 0,
            labels: std::ptr::null_mut(),
            labels_capacity: 0,
            info: SlotrtResultInfo::default(),
        };
        Ok(())
    })
}
