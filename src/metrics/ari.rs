//! Adjusted Rand Index from the contingency table.

use super::{check_same_len, contingency::Contingency};
use crate::error::Result;

/// ARI between two labelings of the same points.
///
/// With R = Σ n_ij(n_ij-1), A = Σ a_i(a_i-1), B = Σ b_j(b_j-1),
/// E = AB / (N(N-1)), M = (A+B)/2: ARI = (R-E)/(M-E), and 1 when M = E
/// (this covers zero or one point, and two identical trivial labelings), as
/// scikit-learn's `adjusted_rand_score` does.
pub fn adjusted_rand_index(true_labels: &[i32], pred_labels: &[i32]) -> Result<f64> {
    check_same_len(true_labels, pred_labels)?;
    Ok(ari_of(&Contingency::build(true_labels, pred_labels, |_| true)))
}

/// ARI over the points whose true label is not 0 (background).
/// An empty foreground gives 1.0, as the ARI of zero points does.
pub fn fg_adjusted_rand_index(true_labels: &[i32], pred_labels: &[i32]) -> Result<f64> {
    check_same_len(true_labels, pred_labels)?;
    Ok(ari_of(&Contingency::build(true_labels, pred_labels, |t| t != 0)))
}

/// Pair counts are summed in u128 and turned into f64 only at the end, so
/// large frames and whole clips lose no precision in the sums.
pub(crate) fn ari_of(table: &Contingency) -> f64 {
    let pairs = |n: u64| -> u128 { n as u128 * n.saturating_sub(1) as u128 };
    let n = table.total;
    let r: u128 = table.counts.iter().map(|&c| pairs(c)).sum();
    let a: u128 = table.true_sizes().into_iter().map(pairs).sum();
    let b: u128 = table.pred_sizes().into_iter().map(pairs).sum();
    let all_pairs = pairs(n);
    if all_pairs == 0 {
        return 1.0;
    }
    let expected = a as f64 * b as f64 / all_pairs as f64;
    let max_index = (a as f64 + b as f64) / 2.0;
    // Exact test for M == E in integers: (A+B) N(N-1) == 2AB.
    if (a + b) * all_pairs == 2 * a * b {
        return 1.0;
    }
    (r as f64 - expected) / (max_index - expected)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identical_labelings_score_one_whatever_the_names() {
        let t = [0, 0, 1, 1, 2, 2];
        let p = [5, 5, 9, 9, -1, -1];
        assert_eq!(adjusted_rand_index(&t, &p).unwrap(), 1.0);
    }

    #[test]
    fn hand_computed_case() {
        // true {0,0,1,1}, pred {0,0,0,1}: n = [[2,0],[1,1]]
        // R = 2, A = 2+2 = 4, B = 6+0 = 6, N(N-1) = 12, E = 2, M = 5
        // ARI = (2-2)/(5-2) = 0
        assert_eq!(adjusted_rand_index(&[0, 0, 1, 1], &[0, 0, 0, 1]).unwrap(), 0.0);
        // true {0,0,0,1,1,1}, pred {0,0,1,1,2,2}: n = [[2,1,0],[0,1,2]]
        // R = 2+2 = 4, A = 6+6 = 12, B = 2+2+2 = 6, N(N-1) = 30,
        // E = 72/30 = 2.4, M = 9 -> (4-2.4)/(9-2.4) = 1.6/6.6
        let v = adjusted_rand_index(&[0, 0, 0, 1, 1, 1], &[0, 0, 1, 1, 2, 2]).unwrap();
        assert!((v - 1.6 / 6.6).abs() < 1e-12, "{v}");
    }

    #[test]
    fn degenerate_cases_follow_scikit_learn() {
        assert_eq!(adjusted_rand_index(&[], &[]).unwrap(), 1.0);
        assert_eq!(adjusted_rand_index(&[3], &[7]).unwrap(), 1.0);
        // Single cluster on both sides.
        assert_eq!(adjusted_rand_index(&[1, 1, 1], &[2, 2, 2]).unwrap(), 1.0);
        // Single true cluster, split prediction: no better than chance.
        assert_eq!(adjusted_rand_index(&[1, 1, 1, 1], &[0, 0, 1, 1]).unwrap(), 0.0);
        // All singletons on both sides.
        assert_eq!(adjusted_rand_index(&[0, 1, 2], &[2, 0, 1]).unwrap(), 1.0);
    }

    #[test]
    fn foreground_ari_ignores_background_points() {
        // Background (0) is predicted as anything; the objects are perfect.
        let t = [0, 0, 0, 1, 1, 2, 2];
        let p = [1, 2, 3, 4, 4, 5, 5];
        assert_eq!(fg_adjusted_rand_index(&t, &p).unwrap(), 1.0);
        assert!(adjusted_rand_index(&t, &p).unwrap() < 1.0);
        // Empty foreground.
        assert_eq!(fg_adjusted_rand_index(&[0, 0], &[1, 2]).unwrap(), 1.0);
    }

    #[test]
    fn mismatched_lengths_are_an_error() {
        let err = adjusted_rand_index(&[0, 1], &[0]).unwrap_err().to_string();
        assert!(err.contains("pred_labels"), "{err}");
    }
}
