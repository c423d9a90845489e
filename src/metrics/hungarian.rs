//! Optimal one-to-one assignment (Hungarian method, O(n^2 m) with
//! potentials), used for mIoU and, later, for matching slots to objects.

/// Assigns rows to distinct columns maximising the summed weight.
///
/// `weights` is row-major [rows x cols]. Returns, per row, the column it got,
/// or `None` when there are more rows than columns and the row is left out.
/// Weights must be finite.
pub fn max_weight_assignment(weights: &[f64], rows: usize, cols: usize) -> Vec<Option<usize>> {
    assert_eq!(weights.len(), rows * cols, "weights must be rows x cols");
    if rows == 0 || cols == 0 {
        return vec![None; rows];
    }
    if rows <= cols {
        let cost: Vec<f64> = weights.iter().map(|w| -w).collect();
        min_cost_rows_le_cols(&cost, rows, cols).into_iter().map(Some).collect()
    } else {
        // Transpose so that the smaller side is assigned completely.
        let mut cost = vec![0.0; rows * cols];
        for r in 0..rows {
            for c in 0..cols {
                cost[c * rows + r] = -weights[r * cols + c];
            }
        }
        let col_to_row = min_cost_rows_le_cols(&cost, cols, rows);
        let mut out = vec![None; rows];
        for (c, r) in col_to_row.into_iter().enumerate() {
            out[r] = Some(c);
        }
        out
    }
}

/// Min-cost assignment of every row (n <= m) to a distinct column.
fn min_cost_rows_le_cols(cost: &[f64], n: usize, m: usize) -> Vec<usize> {
    // 1-based potentials formulation; column 0 is a virtual start column.
    let inf = f64::INFINITY;
    let mut u = vec![0.0; n + 1];
    let mut v = vec![0.0; m + 1];
    let mut col_owner = vec![0usize; m + 1]; // row owning column j (0 = none)
    let mut way = vec![0usize; m + 1];
    for row in 1..=n {
        col_owner[0] = row;
        let mut j0 = 0usize;
        let mut min_v = vec![inf; m + 1];
        let mut used = vec![false; m + 1];
        loop {
            used[j0] = true;
            let i0 = col_owner[j0];
            let mut delta = inf;
            let mut j1 = 0usize;
            for j in 1..=m {
                if used[j] {
                    continue;
                }
                let reduced = cost[(i0 - 1) * m + (j - 1)] - u[i0] - v[j];
                if reduced < min_v[j] {
                    min_v[j] = reduced;
                    way[j] = j0;
                }
                if min_v[j] < delta {
                    delta = min_v[j];
                    j1 = j;
                }
            }
            for j in 0..=m {
                if used[j] {
                    u[col_owner[j]] += delta;
                    v[j] -= delta;
                } else {
                    min_v[j] -= delta;
                }
            }
            j0 = j1;
            if col_owner[j0] == 0 {
                break;
            }
        }
        // Augment along the alternating path.
        loop {
            let j1 = way[j0];
            col_owner[j0] = col_owner[j1];
            j0 = j1;
            if j0 == 0 {
                break;
            }
        }
    }
    let mut row_to_col = vec![0usize; n];
    for j in 1..=m {
        if col_owner[j] != 0 {
            row_to_col[col_owner[j] - 1] = j - 1;
        }
    }
    row_to_col
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    fn total(weights: &[f64], cols: usize, assignment: &[Option<usize>]) -> f64 {
        assignment.iter().enumerate().filter_map(|(r, c)| c.map(|c| weights[r * cols + c])).sum()
    }

    /// Exhaustive search over injective maps from the smaller side.
    fn brute_force_best(weights: &[f64], rows: usize, cols: usize) -> f64 {
        fn go(w: &[f64], rows: usize, cols: usize, r: usize, used: &mut Vec<bool>) -> f64 {
            if r == rows {
                return 0.0;
            }
            // A row may stay unassigned only if rows > cols (weights are >= 0,
            // so the best choice still uses every column).
            let mut best = if rows > cols { go(w, rows, cols, r + 1, used) } else { f64::NEG_INFINITY };
            for c in 0..cols {
                if !used[c] {
                    used[c] = true;
                    best = best.max(w[r * cols + c] + go(w, rows, cols, r + 1, used));
                    used[c] = false;
                }
            }
            best
        }
        go(weights, rows, cols, 0, &mut vec![false; cols])
    }

    #[test]
    fn matches_brute_force_on_random_matrices() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        for _ in 0..300 {
            let rows = rng.random_range(1..=6);
            let cols = rng.random_range(1..=6);
            let w: Vec<f64> = (0..rows * cols).map(|_| rng.random_range(0.0..1.0)).collect();
            let a = max_weight_assignment(&w, rows, cols);
            let mut seen = vec![false; cols];
            for c in a.iter().flatten() {
                assert!(!seen[*c], "column used twice");
                seen[*c] = true;
            }
            assert_eq!(a.iter().flatten().count(), rows.min(cols));
            let best = brute_force_best(&w, rows, cols);
            assert!((total(&w, cols, &a) - best).abs() < 1e-9, "{rows}x{cols}");
        }
    }

    #[test]
    fn empty_sides() {
        assert_eq!(max_weight_assignment(&[], 0, 3), Vec::<Option<usize>>::new());
        assert_eq!(max_weight_assignment(&[], 2, 0), vec![None, None]);
    }
}
