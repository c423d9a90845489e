//! All metrics of one clip at once: per-frame means and the video forms that
//! treat (t, y, x) as one point set, so a slot that switches objects between
//! frames is penalised (the measure of temporal carry-over).

use super::{ari, check_same_len, contingency::Contingency, overlap};
use crate::error::{Error, Result};

/// Scores of one clip. Per-frame metrics are means over frames; FG-ARI, mBO
/// and mIoU average only frames that contain a true object. A value with
/// nothing to average over is NaN.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ClipScores {
    pub ari: f64,
    pub fg_ari: f64,
    pub mbo: f64,
    pub miou: f64,
    pub video_fg_ari: f64,
    pub video_mbo: f64,
    /// Frames that contained at least one true object.
    pub frames_with_objects: u32,
}

/// Scores hard label maps of `frames` frames of `height x width`, laid out
/// [T, H, W]. True label 0 is background; true labels must be >= 0.
pub fn score_clip(
    true_ids: &[i32],
    pred_ids: &[i32],
    frames: usize,
    height: usize,
    width: usize,
) -> Result<ClipScores> {
    check_same_len(true_ids, pred_ids)?;
    let frame_len = height
        .checked_mul(width)
        .filter(|&n| n > 0)
        .ok_or_else(|| Error::invalid(format!("frame size {height}x{width} is empty or too large")))?;
    if frames == 0 || frames.checked_mul(frame_len) != Some(true_ids.len()) {
        return Err(Error::invalid(format!(
            "labels have {} points, expected frames*height*width = {frames}*{height}*{width}",
            true_ids.len()
        )));
    }
    if let Some(bad) = true_ids.iter().find(|&&t| t < 0) {
        return Err(Error::invalid(format!("true_ids contains negative label {bad}")));
    }

    let mut ari_sum = 0.0;
    let (mut fg_sum, mut mbo_sum, mut miou_sum, mut with_objects) = (0.0, 0.0, 0.0, 0u32);
    for (t, p) in true_ids.chunks_exact(frame_len).zip(pred_ids.chunks_exact(frame_len)) {
        ari_sum += ari::ari_of(&Contingency::build(t, p, |_| true));
        if let Some(mbo) = overlap::mean_best_overlap(t, p)? {
            fg_sum += ari::ari_of(&Contingency::build(t, p, |l| l != 0));
            mbo_sum += mbo;
            miou_sum += overlap::mean_iou_matched(t, p)?.unwrap_or(0.0);
            with_objects += 1;
        }
    }
    let per_object_frame = |sum: f64| {
        if with_objects > 0 {
            sum / with_objects as f64
        } else {
            f64::NAN
        }
    };
    let video_mbo = overlap::mean_best_overlap(true_ids, pred_ids)?;
    Ok(ClipScores {
        ari: ari_sum / frames as f64,
        fg_ari: per_object_frame(fg_sum),
        mbo: per_object_frame(mbo_sum),
        miou: per_object_frame(miou_sum),
        video_fg_ari: if video_mbo.is_some() {
            ari::ari_of(&Contingency::build(true_ids, pred_ids, |l| l != 0))
        } else {
            f64::NAN
        },
        video_mbo: video_mbo.unwrap_or(f64::NAN),
        frames_with_objects: with_objects,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identity_switch_is_seen_by_video_metrics_only() {
        // Two frames of 1x4: objects 1 and 2. The prediction is perfect in
        // each frame, but the labels swap between frames.
        let t = [1, 1, 2, 2, 1, 1, 2, 2];
        let p = [5, 5, 6, 6, 6, 6, 5, 5];
        let s = score_clip(&t, &p, 2, 1, 4).unwrap();
        assert_eq!(s.fg_ari, 1.0);
        assert_eq!(s.mbo, 1.0);
        assert_eq!(s.miou, 1.0);
        assert!(s.video_fg_ari < 0.0, "{s:?}");
        // Each object tube (4 points) shares 2 points with each segment tube
        // (4 points): IoU 2/6.
        assert!((s.video_mbo - 1.0 / 3.0).abs() < 1e-12, "{s:?}");
        // Keeping identities fixes it.
        let kept = [5, 5, 6, 6, 5, 5, 6, 6];
        let s = score_clip(&t, &kept, 2, 1, 4).unwrap();
        assert_eq!((s.video_fg_ari, s.video_mbo), (1.0, 1.0));
    }

    #[test]
    fn frames_without_objects_are_not_averaged() {
        let t = [0, 0, 1, 1];
        let p = [3, 3, 4, 4];
        let s = score_clip(&t, &p, 2, 1, 2).unwrap();
        assert_eq!(s.frames_with_objects, 1);
        assert_eq!(s.fg_ari, 1.0);
        let empty = score_clip(&[0, 0], &[1, 1], 1, 1, 2).unwrap();
        assert!(empty.fg_ari.is_nan() && empty.video_mbo.is_nan());
        assert_eq!(empty.ari, 1.0);
    }

    #[test]
    fn bad_shapes_and_labels_are_errors() {
        assert!(score_clip(&[0, 1], &[0, 1], 1, 1, 3).is_err());
        assert!(score_clip(&[0, 1], &[0, 1], 0, 1, 2).is_err());
        assert!(score_clip(&[0, -1], &[0, 1], 1, 1, 2).is_err());
        assert!(score_clip(&[0, 1], &[0], 1, 1, 2).is_err());
    }
}
