//! The guided filter as plain loops over f32 planes, for the CPU.
//!
//! Why: libtorch's CPU `avg_pool2d` without padding counts sums every
//! window from scratch (81 reads per pixel at radius 4) and each of the
//! filter's ~50 elementwise ops is its own pass and allocation; together
//! they cost more than the model step itself (6.1 ms at batch 1, 226 ms at
//! batch 32 in `cargo bench --bench refine`; 86% of it in `avg_pool2d`).
//! Here every box mean is a separable sum (a running column sum, then a short row sum the compiler
//! vectorises) and the per-pixel algebra is fused, one slot at a time, into
//! a few planes of reused scratch memory. The arithmetic is the tensor
//! path's (`GuidedFilter::apply_tensor`), so the two agree to float
//! rounding (tested below).

use std::cell::RefCell;

/// Box means over (2r+1)^2 windows clipped to an h x w plane: the mean of
/// the pixels inside the image, as He's reference and `avg_pool2d` with
/// `count_include_pad = false` take it. Borrows its scratch rows.
struct BoxMean<'a> {
    h: usize,
    w: usize,
    r: usize,
    /// 1 / (number of rows in the window of row y), and of columns.
    inv_rows: &'a [f32],
    inv_cols: &'a [f32],
    /// One row zero-padded by r on each side, and the running column sums.
    row: &'a mut [f32],
    acc: &'a mut [f32],
}

impl<'a> BoxMean<'a> {
    /// Floats of scratch `new` needs.
    fn scratch_len(h: usize, w: usize, r: usize) -> usize {
        (h + w) + (w + 2 * r) + w
    }

    /// `scratch` holds `scratch_len` floats.
    fn new(h: usize, w: usize, r: usize, scratch: &'a mut [f32]) -> Self {
        let (rows, rest) = scratch.split_at_mut(h);
        let (cols, rest) = rest.split_at_mut(w);
        let (row, acc) = rest.split_at_mut(w + 2 * r);
        for (n, inv) in [(h, &mut *rows), (w, &mut *cols)] {
            for (i, v) in inv.iter_mut().enumerate() {
                *v = 1.0 / ((i + r + 1).min(n) - i.saturating_sub(r)) as f32;
            }
        }
        row.fill(0.0); // the padding stays zero: only row[r..r + w] is written
        BoxMean { h, w, r, inv_rows: rows, inv_cols: cols, row, acc: &mut acc[..w] }
    }

    /// Pixels per plane.
    fn n(&self) -> usize {
        self.h * self.w
    }

    /// The box means of `count` consecutive planes of `src` into `dst`.
    fn planes(&mut self, src: &[f32], dst: &mut [f32], count: usize) {
        let n = self.n();
        for (s, d) in src[..count * n].chunks_exact(n).zip(dst[..count * n].chunks_exact_mut(n)) {
            self.apply(s, d);
        }
    }

    /// `dst` = box mean of `src` (both h x w).
    fn apply(&mut self, src: &[f32], dst: &mut [f32]) {
        let (h, w, r) = (self.h, self.w, self.r);
        let (row, acc) = (&mut *self.row, &mut *self.acc);
        // Vertical: a running sum of rows y-r..=y+r, one row at a time.
        acc.fill(0.0);
        for y in 0..r.min(h) {
            add_row(acc, &src[y * w..(y + 1) * w]);
        }
        for y in 0..h {
            if y + r < h {
                add_row(acc, &src[(y + r) * w..(y + r + 1) * w]);
            }
            if y > r {
                sub_row(acc, &src[(y - r - 1) * w..(y - r) * w]);
            }
            // Horizontal: the row, zero-padded by r, summed over 2r+1 taps.
            row[r..r + w].copy_from_slice(acc);
            let out = &mut dst[y * w..(y + 1) * w];
            out.copy_from_slice(&row[..w]);
            for tap in 1..=2 * r {
                add_row(out, &row[tap..tap + w]);
            }
            let inv_row = self.inv_rows[y];
            for (o, &ic) in out.iter_mut().zip(self.inv_cols) {
                *o *= inv_row * ic;
            }
        }
    }
}

fn add_row(acc: &mut [f32], src: &[f32]) {
    for (a, &s) in acc.iter_mut().zip(src) {
        *a += s;
    }
}

fn sub_row(acc: &mut [f32], src: &[f32]) {
    for (a, &s) in acc.iter_mut().zip(src) {
        *a -= s;
    }
}

thread_local! {
    /// Scratch planes, grown to the largest frame seen and then reused, so
    /// a warm stream allocates nothing here (tests/alloc.rs).
    static SCRATCH: RefCell<Vec<f32>> = const { RefCell::new(Vec::new()) };
}

/// Filters `masks` ([B, K, H, W], already at the guide's size) guided by
/// `guide` ([B, 3, H, W] in [0, 1]) into `out` ([B, K, H, W]): clipped at 0
/// and renormalised over K, as `GuidedFilter::apply_tensor`.
pub(super) fn guided_filter(
    guide: &[f32],
    masks: &[f32],
    out: &mut [f32],
    (b, k, h, w): (usize, usize, usize, usize),
    radius: usize,
    eps: f32,
) {
    let n = h * w;
    assert!(guide.len() == b * 3 * n && masks.len() == b * k * n && out.len() == b * k * n, "guided filter sizes");
    // Per image: 3 colour means + 6 inverse-covariance entries, 8 per-slot
    // planes, one plane of mask sums; two row buffers and the window counts.
    let plane_count = 9 + 8 + 1;
    SCRATCH.with(|cell| {
        let mut scratch = cell.borrow_mut();
        let need = plane_count * n + BoxMean::scratch_len(h, w, radius);
        if scratch.len() < need {
            scratch.resize(need, 0.0);
        }
        let (planes_buf, box_scratch) = scratch.split_at_mut(plane_count * n);
        let mut boxes = BoxMean::new(h, w, radius, box_scratch);
        let (stats, rest) = planes_buf.split_at_mut(9 * n);
        let (slot, sums) = rest.split_at_mut(8 * n);
        let sums = &mut sums[..n];
        for i in 0..b {
            let g = &guide[i * 3 * n..(i + 1) * 3 * n];
            colour_statistics(g, stats, slot, &mut boxes, eps);
            let q_all = &mut out[i * k * n..(i + 1) * k * n];
            sums.fill(0.0);
            for s in 0..k {
                let p = &masks[(i * k + s) * n..(i * k + s + 1) * n];
                let q = &mut q_all[s * n..(s + 1) * n];
                filter_slot(g, stats, p, q, slot, &mut boxes);
                add_row(sums, q);
            }
            for s in sums.iter_mut() {
                *s = 1.0 / s.max(1e-8);
            }
            for q in q_all.chunks_exact_mut(n) {
                for (v, &inv) in q.iter_mut().zip(sums.iter()) {
                    *v *= inv;
                }
            }
        }
    });
}

/// Fills `stats` with the window means of the three colours (planes 0-2)
/// and the inverse of the regularised colour covariance (planes 3-8:
/// entries 00, 01, 02, 11, 12, 22 of the symmetric 3x3). `tmp` holds at
/// least 6 planes.
fn colour_statistics(g: &[f32], stats: &mut [f32], tmp: &mut [f32], boxes: &mut BoxMean, eps: f32) {
    const PAIRS: [(usize, usize); 6] = [(0, 0), (0, 1), (0, 2), (1, 1), (1, 2), (2, 2)];
    let n = boxes.n();
    let (means, inverse) = stats.split_at_mut(3 * n);
    boxes.planes(g, means, 3);
    // Window means of the colour products, into `inverse`'s planes.
    for (m, &(i, j)) in PAIRS.iter().enumerate() {
        let product = &mut tmp[..n];
        for ((t, &a), &c) in product.iter_mut().zip(&g[i * n..(i + 1) * n]).zip(&g[j * n..(j + 1) * n]) {
            *t = a * c;
        }
        boxes.apply(product, &mut inverse[m * n..(m + 1) * n]);
    }
    let (mr, rest) = means.split_at(n);
    let (mg, mb) = rest.split_at(n);
    let [e00, e01, e02, e11, e12, e22] = planes_mut(inverse, n);
    for px in 0..n {
        let (r, gg, bb) = (mr[px], mg[px], mb[px]);
        let vrr = e00[px] - r * r + eps;
        let vrg = e01[px] - r * gg;
        let vrb = e02[px] - r * bb;
        let vgg = e11[px] - gg * gg + eps;
        let vgb = e12[px] - gg * bb;
        let vbb = e22[px] - bb * bb + eps;
        // Adjugate of the symmetric 3x3, divided by its determinant.
        let i00 = vgg * vbb - vgb * vgb;
        let i01 = vrb * vgb - vrg * vbb;
        let i02 = vrg * vgb - vrb * vgg;
        let i11 = vrr * vbb - vrb * vrb;
        let i12 = vrg * vrb - vrr * vgb;
        let i22 = vrr * vgg - vrg * vrg;
        let inv_det = 1.0 / (vrr * i00 + vrg * i01 + vrb * i02);
        e00[px] = i00 * inv_det;
        e01[px] = i01 * inv_det;
        e02[px] = i02 * inv_det;
        e11[px] = i11 * inv_det;
        e12[px] = i12 * inv_det;
        e22[px] = i22 * inv_det;
    }
}

/// One slot's refined, clipped (not yet renormalised) mask `q` from its
/// upsampled mask `p`. `tmp` holds 8 planes.
fn filter_slot(g: &[f32], stats: &[f32], p: &[f32], q: &mut [f32], tmp: &mut [f32], boxes: &mut BoxMean) {
    let n = boxes.n();
    let (inputs, means) = tmp.split_at_mut(4 * n);
    let (gr, gg, gb) = (&g[..n], &g[n..2 * n], &g[2 * n..3 * n]);
    // p and colour * p, then their window means.
    inputs[..n].copy_from_slice(p);
    for (c, channel) in [gr, gg, gb].into_iter().enumerate() {
        let dst = &mut inputs[(c + 1) * n..(c + 2) * n];
        for ((d, &a), &m) in dst.iter_mut().zip(channel).zip(p) {
            *d = a * m;
        }
    }
    boxes.planes(inputs, means, 4);
    // Per pixel: the window's linear model of p in the colour, a and offset.
    let (mi, inv) = stats.split_at(3 * n);
    let [i00, i01, i02, i11, i12, i22] = planes(inv, n);
    let [ar, ag, ab, off] = planes_mut(inputs, n);
    for px in 0..n {
        let (mr, mg, mb) = (mi[px], mi[n + px], mi[2 * n + px]);
        let mp = means[px];
        let cr = means[n + px] - mr * mp;
        let cg = means[2 * n + px] - mg * mp;
        let cb = means[3 * n + px] - mb * mp;
        let a_r = i00[px] * cr + i01[px] * cg + i02[px] * cb;
        let a_g = i01[px] * cr + i11[px] * cg + i12[px] * cb;
        let a_b = i02[px] * cr + i12[px] * cg + i22[px] * cb;
        ar[px] = a_r;
        ag[px] = a_g;
        ab[px] = a_b;
        off[px] = mp - a_r * mr - a_g * mg - a_b * mb;
    }
    boxes.planes(inputs, means, 4);
    for px in 0..n {
        let v = means[px] * gr[px] + means[n + px] * gg[px] + means[2 * n + px] * gb[px] + means[3 * n + px];
        q[px] = v.max(0.0);
    }
}

/// The first N planes of n floats of `x`, as separate slices.
fn planes_mut<const N: usize>(x: &mut [f32], n: usize) -> [&mut [f32]; N] {
    let mut planes = x.chunks_exact_mut(n);
    std::array::from_fn(|_| planes.next().expect("enough planes"))
}

fn planes<const N: usize>(x: &[f32], n: usize) -> [&[f32]; N] {
    std::array::from_fn(|i| &x[i * n..(i + 1) * n])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn box_means_match_a_direct_count_inside_the_image() {
        let (h, w, r) = (7, 11, 2);
        let src: Vec<f32> = (0..h * w).map(|i| ((i * 37) % 17) as f32).collect();
        let mut dst = vec![0.0; h * w];
        let mut scratch = vec![0.0; BoxMean::scratch_len(h, w, r)];
        BoxMean::new(h, w, r, &mut scratch).apply(&src, &mut dst);
        for y in 0..h {
            for x in 0..w {
                let (mut sum, mut count) = (0.0, 0);
                for yy in y.saturating_sub(r)..(y + r + 1).min(h) {
                    for xx in x.saturating_sub(r)..(x + r + 1).min(w) {
                        sum += src[yy * w + xx];
                        count += 1;
                    }
                }
                let want = sum / count as f32;
                assert!((dst[y * w + x] - want).abs() < 1e-4, "({y}, {x}): {} vs {want}", dst[y * w + x]);
            }
        }
    }
}
