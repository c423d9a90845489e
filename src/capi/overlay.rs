//! Mask overlays for C callers: an animated GIF of frames beside their
//! slot segmentation, built frame by frame from results.

use std::ffi::{c_char, CStr};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use super::boundary::{arg_mut, arg_ref, arg_slice, guard, guard_value};
use super::status::SlotrtStatus;
use crate::data::preview::OverlayAnimation;

/// An animation being built. Not thread-safe: use one from one thread at a
/// time.
pub struct SlotrtOverlayGif {
    animation: OverlayAnimation,
}

/// Starts an animation of width x height frames (1..=4096 each).
///
/// # Safety
/// `out_gif` points to a writable pointer.
#[no_mangle]
pub unsafe extern "C" fn slotrt_overlay_gif_create(
    width: u32,
    height: u32,
    out_gif: *mut *mut SlotrtOverlayGif,
) -> SlotrtStatus {
    guard("slotrt_overlay_gif_create", || {
        let out = unsafe { arg_mut(out_gif, "out_gif") }?;
        let animation = OverlayAnimation::new(width, height)?;
        *out = Box::into_raw(Box::new(SlotrtOverlayGif { animation }));
        Ok(())
    })
}

/// Adds a frame: `rgb` holds width*height*3 bytes (packed RGB8) and
/// `labels` width*height slot indices (a result's label map at the frame's
/// size, from a session with label_maps on).
///
/// # Safety
/// `gif` is live; `rgb` and `labels` hold `rgb_len` and `labels_len` bytes.
#[no_mangle]
pub unsafe extern "C" fn slotrt_overlay_gif_add(
    gif: *mut SlotrtOverlayGif,
    rgb: *const u8,
    rgb_len: usize,
    labels: *const u8,
    labels_len: usize,
) -> SlotrtStatus {
    guard("slotrt_overlay_gif_add", || {
        let gif = unsafe { arg_mut(gif, "gif") }?;
        let rgb = unsafe { arg_slice(rgb, rgb_len, "rgb") }?;
        let labels = unsafe { arg_slice(labels, labels_len, "labels") }?;
        gif.animation.add(rgb, labels)?;
        Ok(())
    })
}

/// Writes the animation to `path` as a looping GIF.
///
/// # Safety
/// `gif` is live; `path` is a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn slotrt_overlay_gif_save(gif: *const SlotrtOverlayGif, path: *const c_char) -> SlotrtStatus {
    guard("slotrt_overlay_gif_save", || {
        let gif = unsafe { arg_ref(gif, "gif") }?;
        let path = unsafe { CStr::from_ptr(arg_ref(path, "path")?) };
        gif.animation.save(Path::new(std::ffi::OsStr::from_bytes(path.to_bytes())))?;
        Ok(())
    })
}

/// Frees an animation. NULL is a no-op.
///
/// # Safety
/// `gif` is NULL or an animation not yet freed.
#[no_mangle]
pub unsafe extern "C" fn slotrt_overlay_gif_free(gif: *mut SlotrtOverlayGif) {
    guard_value("slotrt_overlay_gif_free", (), || {
        if !gif.is_null() {
            drop(unsafe { Box::from_raw(gif) });
        }
    })
}
