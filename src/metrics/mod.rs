//! Segmentation metrics exactly as `../shared/MODELS.md` section 7 defines
//! them: ARI, FG-ARI, mBO, mIoU (Hungarian) and their video forms over
//! (t, y, x). Hard labels in, numbers out; no tensors, no other layer.
//!
//! Conventions: ground-truth label 0 is background; predicted labels are any
//! integers (usually the argmax slot index).

mod ari;
mod contingency;
pub mod hungarian;
mod overlap;
mod scores;

pub use ari::{adjusted_rand_index, fg_adjusted_rand_index};
pub use overlap::{mean_best_overlap, mean_iou_matched};
pub use scores::{score_clip, ClipScores};

use crate::error::{Error, Result};

/// Both label arrays must describe the same points.
fn check_same_len(true_labels: &[i32], pred_labels: &[i32]) -> Result<()> {
    if true_labels.len() != pred_labels.len() {
        return Err(Error::invalid(format!(
            "true_labels has {} points but pred_labels has {}",
            true_labels.len(),
            pred_labels.len()
        )));
    }
    Ok(())
}
