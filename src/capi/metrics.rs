//! Segmentation metrics for C callers (evaluating a model inside a
//! simulator, or checking results against ground truth).

use super::boundary::{arg_mut, arg_slice, check_struct_size, guard, CallError, CallResult};
use super::status::SlotrtStatus;
use crate::metrics;

/// All metrics of one clip (see `slotrt_score_clip`). Per-frame values are
/// means over frames; FG-ARI, mBO and mIoU average only frames that contain
/// a true object; a value with nothing to average over is NaN.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct SlotrtClipScores {
    /// Set to sizeof(slotrt_clip_scores) before the call.
    pub struct_size: u32,
    /// Frames that contained at least one true object.
    pub frames_with_objects: u32,
    pub ari: f64,
    pub fg_ari: f64,
    /// Mean best overlap (IoU) per true object.
    pub mbo: f64,
    /// Mean IoU under one-to-one Hungarian matching.
    pub miou: f64,
    /// FG-ARI over the whole clip's (t, y, x) points: penalises identity switches.
    pub video_fg_ari: f64,
    /// mBO over (t, y, x) object tubes.
    pub video_mbo: f64,
}

fn points(n: usize, name: &str) -> CallResult<usize> {
    if n > i32::MAX as usize {
        return Err(CallError::new(SlotrtStatus::InvalidArgument, format!("`{name}` = {n} is too large")));
    }
    Ok(n)
}

/// # Safety
/// As for `slotrt_ari`.
unsafe fn ari_into(
    true_labels: *const i32,
    pred_labels: *const i32,
    n: usize,
    out_ari: *mut f64,
    score: fn(&[i32], &[i32]) -> crate::Result<f64>,
) -> CallResult {
    let n = points(n, "n")?;
    let t = unsafe { arg_slice(true_labels, n, "true_labels") }?;
    let p = unsafe { arg_slice(pred_labels, n, "pred_labels") }?;
    let out = unsafe { arg_mut(out_ari, "out_ari") }?;
    *out = score(t, p)?;
    Ok(())
}

/// Adjusted Rand Index between two labelings of `n` points. Labels are any
/// integers. Zero or one point, or two identical trivial labelings, give 1.0
/// (as scikit-learn's adjusted_rand_score). Writes `*out_ari` on success.
///
/// # Safety
/// `true_labels` and `pred_labels` point to `n` readable values (may be NULL
/// when `n` is 0); `out_ari` points to a writable double.
#[no_mangle]
pub unsafe extern "C" fn slotrt_ari(
    true_labels: *const i32,
    pred_labels: *const i32,
    n: usize,
    out_ari: *mut f64,
) -> SlotrtStatus {
    guard("slotrt_ari", || unsafe { ari_into(true_labels, pred_labels, n, out_ari, metrics::adjusted_rand_index) })
}

/// Foreground ARI: as `slotrt_ari` over the points whose true label is not 0.
///
/// # Safety
/// As for `slotrt_ari`.
#[no_mangle]
pub unsafe extern "C" fn slotrt_fg_ari(
    true_labels: *const i32,
    pred_labels: *const i32,
    n: usize,
    out_ari: *mut f64,
) -> SlotrtStatus {
    guard("slotrt_fg_ari", || unsafe {
        ari_into(true_labels, pred_labels, n, out_ari, metrics::fg_adjusted_rand_index)
    })
}

/// Scores a clip of hard label maps laid out [frames, height, width]:
/// `true_ids` (0 = background, objects > 0, never negative) against
/// `pred_ids` (any integers, e.g. the argmax slot). `out->struct_size` must
/// be sizeof(slotrt_clip_scores); the other fields are written on success.
///
/// # Safety
/// The label arrays point to frames*height*width readable values; `out`
/// points to a writable slotrt_clip_scores.
#[no_mangle]
pub unsafe extern "C" fn slotrt_score_clip(
    true_ids: *const i32,
    pred_ids: *const i32,
    frames: u32,
    height: u32,
    width: u32,
    out: *mut SlotrtClipScores,
) -> SlotrtStatus {
    guard("slotrt_score_clip", || {
        let out = unsafe { arg_mut(out, "out") }?;
        check_struct_size(out.struct_size, size_of::<SlotrtClipScores>(), "out")?;
        let n = (frames as u64 * height as u64 * width as u64) as usize;
        let n = points(n, "frames*height*width")?;
        let t = unsafe { arg_slice(true_ids, n, "true_ids") }?;
        let p = unsafe { arg_slice(pred_ids, n, "pred_ids") }?;
        let s = metrics::score_clip(t, p, frames as usize, height as usize, width as usize)?;
        *out = SlotrtClipScores {
            struct_size: out.struct_size,
            frames_with_objects: s.frames_with_objects,
            ari: s.ari,
            fg_ari: s.fg_ari,
            mbo: s.mbo,
            miou: s.miou,
            video_fg_ari: s.video_fg_ari,
            video_mbo: s.video_mbo,
        };
        Ok(())
    })
}
