//! The contingency table n_ij = |True_i ∩ Pred_j| that every metric here is
//! computed from.

use std::collections::HashMap;

/// Dense contingency table over the labels that actually occur.
pub(crate) struct Contingency {
    /// Distinct true labels, in order of first appearance.
    pub true_labels: Vec<i32>,
    /// Distinct predicted labels, in order of first appearance.
    pub pred_labels: Vec<i32>,
    /// Row-major [true_labels.len() x pred_labels.len()] counts.
    pub counts: Vec<u64>,
    /// Number of points counted.
    pub total: u64,
}

impl Contingency {
    /// Counts the pairs (true, pred) for which `keep(true)` holds.
    pub fn build(true_labels: &[i32], pred_labels: &[i32], keep: impl Fn(i32) -> bool) -> Self {
        let mut true_index: HashMap<i32, usize> = HashMap::new();
        let mut pred_index: HashMap<i32, usize> = HashMap::new();
        let mut pairs: HashMap<(usize, usize), u64> = HashMap::new();
        let mut total = 0u64;
        let mut trues = Vec::new();
        let mut preds = Vec::new();
        for (&t, &p) in true_labels.iter().zip(pred_labels) {
            if !keep(t) {
                continue;
            }
            let ti = *true_index.entry(t).or_insert_with(|| {
                trues.push(t);
                trues.len() - 1
            });
            let pi = *pred_index.entry(p).or_insert_with(|| {
                preds.push(p);
                preds.len() - 1
            });
            *pairs.entry((ti, pi)).or_default() += 1;
            total += 1;
        }
        let mut counts = vec![0u64; trues.len() * preds.len()];
        for ((ti, pi), n) in pairs {
            counts[ti * preds.len() + pi] = n;
        }
        Contingency { true_labels: trues, pred_labels: preds, counts, total }
    }

    pub fn count(&self, ti: usize, pi: usize) -> u64 {
        self.counts[ti * self.pred_labels.len() + pi]
    }

    /// a_i: points per true label.
    pub fn true_sizes(&self) -> Vec<u64> {
        (0..self.true_labels.len()).map(|ti| (0..self.pred_labels.len()).map(|pi| self.count(ti, pi)).sum()).collect()
    }

    /// b_j: points per predicted label.
    pub fn pred_sizes(&self) -> Vec<u64> {
        (0..self.pred_labels.len()).map(|pi| (0..self.true_labels.len()).map(|ti| self.count(ti, pi)).sum()).collect()
    }
}
