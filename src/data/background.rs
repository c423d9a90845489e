//! Random backgrounds. All colours are dark (HSV value at most 0.4) and
//! weakly saturated, while objects are bright and saturated, so objects never
//! blend into the background.

use std::f32::consts::TAU;

use rand::Rng;

use super::colour::{hsv_to_unit_rgb, to_u8};
use super::kinds::BackgroundKind;

/// Uniform sample in `[lo, hi)` (or `lo` when the range is empty), without
/// the panics of `random_range` on empty float ranges.
pub(crate) fn uniform<R: Rng + ?Sized>(rng: &mut R, lo: f32, hi: f32) -> f32 {
    lo + (hi - lo) * rng.random::<f32>()
}

/// A random background colour, channels in [0, 1].
fn dark_colour<R: Rng + ?Sized>(rng: &mut R) -> [f32; 3] {
    let hue = uniform(rng, 0.0, 360.0);
    let sat = uniform(rng, 0.0, 0.5);
    let val = uniform(rng, 0.08, 0.4);
    hsv_to_unit_rgb(hue, sat, val)
}

/// A `height * width * 3` RGB background of the given kind.
pub(crate) fn generate<R: Rng + ?Sized>(kind: BackgroundKind, width: u32, height: u32, rng: &mut R) -> Vec<u8> {
    let (w, h) = (width as usize, height as usize);
    let a = dark_colour(rng);
    let b = dark_colour(rng);
    // Blend weight in [0, 1] per pixel; each kind only decides this field.
    let weight: Box<dyn Fn(usize, usize) -> f32> = match kind {
        BackgroundKind::Plain => Box::new(|_, _| 0.0),
        BackgroundKind::Gradient => gradient(w, h, rng),
        BackgroundKind::Textured => match rng.random_range(0..3u32) {
            0 => checker(w, h, rng),
            1 => stripes(w, h, rng),
            _ => noise(w, h, rng),
        },
    };
    let mut out = Vec::with_capacity(w * h * 3);
    for y in 0..h {
        for x in 0..w {
            let t = weight(x, y);
            for c in 0..3 {
                out.push(to_u8(a[c] + (b[c] - a[c]) * t));
            }
        }
    }
    out
}

/// Linear ramp across the frame along a random direction.
fn gradient<R: Rng + ?Sized>(w: usize, h: usize, rng: &mut R) -> Box<dyn Fn(usize, usize) -> f32> {
    let (sin, cos) = uniform(rng, 0.0, TAU).sin_cos();
    let (cx, cy) = (w as f32 * 0.5, h as f32 * 0.5);
    // Projection of a corner: the ramp spans exactly the frame.
    let reach = (cx * cos.abs() + cy * sin.abs()).max(1e-6);
    Box::new(move |x, y| {
        let p = (x as f32 + 0.5 - cx) * cos + (y as f32 + 0.5 - cy) * sin;
        (p / reach + 1.0) * 0.5
    })
}

/// Checkerboard with a random cell size and offset.
fn checker<R: Rng + ?Sized>(w: usize, h: usize, rng: &mut R) -> Box<dyn Fn(usize, usize) -> f32> {
    let max_cell = (w.min(h) / 4).max(3);
    let cell = rng.random_range(3..=max_cell);
    let (ox, oy) = (rng.random_range(0..cell), rng.random_range(0..cell));
    Box::new(move |x, y| (((x + ox) / cell + (y + oy) / cell) % 2) as f32)
}

/// Hard-edged stripes at a random angle and period.
fn stripes<R: Rng + ?Sized>(w: usize, h: usize, rng: &mut R) -> Box<dyn Fn(usize, usize) -> f32> {
    let max_period = (w.min(h) / 3).max(4) as f32;
    let period = uniform(rng, 4.0, max_period.max(4.0) + 1.0);
    let (sin, cos) = uniform(rng, 0.0, TAU).sin_cos();
    let phase = uniform(rng, 0.0, period);
    Box::new(move |x, y| {
        let p = x as f32 * cos + y as f32 * sin + phase;
        if p.rem_euclid(period) < period * 0.5 {
            0.0
        } else {
            1.0
        }
    })
}

/// Smooth value noise: random values on a coarse grid, bilinearly interpolated.
fn noise<R: Rng + ?Sized>(w: usize, h: usize, rng: &mut R) -> Box<dyn Fn(usize, usize) -> f32> {
    let cell = rng.random_range(3..=10usize) as f32;
    let gw = (w as f32 / cell).ceil() as usize + 2;
    let gh = (h as f32 / cell).ceil() as usize + 2;
    let grid: Vec<f32> = (0..gw * gh).map(|_| rng.random::<f32>()).collect();
    Box::new(move |x, y| {
        let (fx, fy) = (x as f32 / cell, y as f32 / cell);
        let (ix, iy) = (fx as usize, fy as usize);
        let (tx, ty) = (fx - ix as f32, fy - iy as f32);
        let g = |i: usize, j: usize| grid[j * gw + i];
        let top = g(ix, iy) + (g(ix + 1, iy) - g(ix, iy)) * tx;
        let bottom = g(ix, iy + 1) + (g(ix + 1, iy + 1) - g(ix, iy + 1)) * tx;
        top + (bottom - top) * ty
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn every_kind_is_dark_sized_and_deterministic() {
        for &kind in BackgroundKind::ALL {
            for seed in 0..20 {
                let bg = generate(kind, 40, 24, &mut ChaCha8Rng::seed_from_u64(seed));
                assert_eq!(bg.len(), 40 * 24 * 3);
                // HSV value <= 0.4 means no channel above 102.
                assert!(bg.iter().all(|&c| c <= 102), "{kind} too bright");
                let again = generate(kind, 40, 24, &mut ChaCha8Rng::seed_from_u64(seed));
                assert_eq!(bg, again);
            }
        }
    }

    #[test]
    fn plain_is_uniform_and_textured_varies() {
        let bg = generate(BackgroundKind::Plain, 16, 16, &mut ChaCha8Rng::seed_from_u64(1));
        assert!(bg.chunks(3).all(|p| p == &bg[..3]));
        let varied = (0..20).filter(|&s| {
            let bg = generate(BackgroundKind::Textured, 32, 32, &mut ChaCha8Rng::seed_from_u64(s));
            bg.chunks(3).any(|p| p != &bg[..3])
        });
        assert!(varied.count() >= 18);
    }
}
