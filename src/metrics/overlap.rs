//! Overlap metrics between ground-truth objects and predicted segments:
//! mBO (best IoU per object) and mIoU (one-to-one Hungarian matching).

use super::{check_same_len, contingency::Contingency, hungarian};
use crate::error::Result;

/// IoU matrix [objects x segments] for the non-background true labels.
fn iou_matrix(true_labels: &[i32], pred_labels: &[i32]) -> (Vec<f64>, usize, usize) {
    let all = Contingency::build(true_labels, pred_labels, |_| true);
    let true_sizes = all.true_sizes();
    let pred_sizes = all.pred_sizes();
    let objects: Vec<usize> = (0..all.true_labels.len()).filter(|&ti| all.true_labels[ti] != 0).collect();
    let segments = all.pred_labels.len();
    let mut iou = vec![0.0; objects.len() * segments];
    for (row, &ti) in objects.iter().enumerate() {
        for pi in 0..segments {
            let inter = all.count(ti, pi);
            let union = true_sizes[ti] + pred_sizes[pi] - inter;
            iou[row * segments + pi] = inter as f64 / union as f64;
        }
    }
    (iou, objects.len(), segments)
}

/// mBO: mean over true objects (label != 0) of the best IoU with any
/// predicted segment. `None` when there is no true object.
pub fn mean_best_overlap(true_labels: &[i32], pred_labels: &[i32]) -> Result<Option<f64>> {
    check_same_len(true_labels, pred_labels)?;
    let (iou, objects, segments) = iou_matrix(true_labels, pred_labels);
    if objects == 0 {
        return Ok(None);
    }
    let sum: f64 =
        (0..objects).map(|o| iou[o * segments..(o + 1) * segments].iter().cloned().fold(0.0, f64::max)).sum();
    Ok(Some(sum / objects as f64))
}

/// mIoU: Hungarian one-to-one matching of true objects to predicted
/// segments maximising total IoU; unmatched objects score 0. `None` when
/// there is no true object.
pub fn mean_iou_matched(true_labels: &[i32], pred_labels: &[i32]) -> Result<Option<f64>> {
    check_same_len(true_labels, pred_labels)?;
    let (iou, objects, segments) = iou_matrix(true_labels, pred_labels);
    if objects == 0 {
        return Ok(None);
    }
    let assignment = hungarian::max_weight_assignment(&iou, objects, segments);
    let sum: f64 = assignment.iter().enumerate().filter_map(|(o, s)| s.map(|s| iou[o * segments + s])).sum();
    Ok(Some(sum / objects as f64))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hand_computed_overlaps() {
        // Object 1 = points {0,1,2,3}, object 2 = {4,5}, background = {6,7}.
        let t = [1, 1, 1, 1, 2, 2, 0, 0];
        // Segment 7 covers {0,1,4,5}, segment 8 covers {2,3,6,7}.
        let p = [7, 7, 8, 8, 7, 7, 8, 8];
        // IoU(1,7) = 2/6, IoU(1,8) = 2/6, IoU(2,7) = 2/4, IoU(2,8) = 0.
        let mbo = mean_best_overlap(&t, &p).unwrap().unwrap();
        assert!((mbo - (2.0 / 6.0 + 0.5) / 2.0).abs() < 1e-12, "{mbo}");
        // Matching: 2 -> 7 (0.5), 1 -> 8 (1/3).
        let miou = mean_iou_matched(&t, &p).unwrap().unwrap();
        assert!((miou - (0.5 + 2.0 / 6.0) / 2.0).abs() < 1e-12, "{miou}");
    }

    #[test]
    fn one_segment_for_two_objects_leaves_one_unmatched() {
        let t = [1, 1, 2, 2];
        let p = [0, 0, 0, 0];
        // mBO lets both objects use the segment (IoU 0.5 each); mIoU cannot.
        assert_eq!(mean_best_overlap(&t, &p).unwrap(), Some(0.5));
        assert_eq!(mean_iou_matched(&t, &p).unwrap(), Some(0.25));
    }

    #[test]
    fn no_objects_gives_none() {
        assert_eq!(mean_best_overlap(&[0, 0], &[1, 2]).unwrap(), None);
        assert_eq!(mean_iou_matched(&[], &[]).unwrap(), None);
    }
}
