//! Mask refinement at the input's resolution: a colour guided filter
//! (He, Sun and Tang, "Guided Image Filtering", 2010) moves the edges of a
//! slot's soft mask onto the edges of the frame.
//!
//! Why: Slot Attention's masks live on the token grid (32x32 for a 64x64
//! input with a stride-2 encoder). Bilinear upsampling leaves every object
//! boundary about a token wide and blurred, and on small objects those
//! boundary pixels are most of the segmentation error. The filter is local
//! and linear in the masks: each output mask is, per window, an affine
//! function of the frame's colour, fitted to the upsampled mask. Identity,
//! grouping and carry-over stay the model's; only the outline moves.
//!
//! Being linear, it keeps the masks' sum over slots at 1 exactly (a
//! constant input passes unchanged); small negative overshoots at edges
//! are clipped and the masks renormalised.

use serde::{Deserialize, Serialize};
use tch::{Device, Kind, Tensor};

mod native;

use crate::error::{Error, Result};

/// How served masks are refined; stored in the model config (`refine`).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum RefineConfig {
    /// Colour guided filter at the model's input resolution.
    GuidedFilter(GuidedFilter),
}

/// Window radius in input pixels and regulariser in squared [0, 1]
/// intensity units: a window whose colour variance is well below `eps`
/// is treated as flat (the mask is smoothed there); well above, the mask
/// follows the colour edge.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GuidedFilter {
    pub radius: i64,
    pub eps: f64,
}

impl GuidedFilter {
    /// The default for a `height` x `width` input: a radius of 1/16 of the
    /// shorter side (4 px at 64x64), eps 1e-3.
    pub fn for_input(height: i64, width: i64) -> Self {
        GuidedFilter { radius: (height.min(width) / 16).max(1), eps: 1e-3 }
    }

    pub fn validate(&self, height: i64, width: i64) -> Result<()> {
        if self.radius < 1 || 2 * self.radius + 1 > height.min(width) {
            return Err(Error::invalid(format!(
                "refine.radius is {}, must be in 1..={} for a {width}x{height} input",
                self.radius,
                (height.min(width) - 1) / 2
            )));
        }
        if !(self.eps > 0.0 && self.eps.is_finite()) {
            return Err(Error::invalid(format!("refine.eps must be positive and finite, got {}", self.eps)));
        }
        Ok(())
    }

    /// Refines soft masks [B, K, h, w] (summing to 1 over K) with the
    /// guide images [B, 3, H, W] in [0, 1]: masks are upsampled bilinearly
    /// to H x W, filtered, clipped at 0 and renormalised. Returns
    /// [B, K, H, W] f32 on the guide's device. On the CPU (outside
    /// autograd) this runs as fused loops (`native`), elsewhere as tensor
    /// ops (`apply_tensor`); the two agree to float rounding.
    pub fn apply(&self, guide: &Tensor, masks: &Tensor) -> Result<Tensor> {
        let (guide, p, [b, k, h, w]) = self.prepare(guide, masks)?;
        if guide.device() != Device::Cpu || guide.requires_grad() || p.requires_grad() {
            return self.filter_tensor(&guide, &p, [b, k, h, w]);
        }
        let (guide, p) = (guide.contiguous(), p.contiguous());
        let out = Tensor::f_empty([b, k, h, w], (Kind::Float, Device::Cpu))?;
        let (b, k, h, w) = (b as usize, k as usize, h as usize, w as usize);
        // SAFETY: contiguous CPU f32 tensors of exactly these lengths, alive
        // for the call; `out` is fresh and aliases neither input.
        let (g, m, o) = unsafe {
            (
                std::slice::from_raw_parts(guide.data_ptr() as *const f32, b * 3 * h * w),
                std::slice::from_raw_parts(p.data_ptr() as *const f32, b * k * h * w),
                std::slice::from_raw_parts_mut(out.data_ptr() as *mut f32, b * k * h * w),
            )
        };
        native::guided_filter(g, m, o, (b, k, h, w), self.radius as usize, self.eps as f32);
        Ok(out)
    }

    /// `apply` as libtorch tensor ops on any device (the reference the
    /// CPU loops are tested against; what CUDA and autograd run).
    pub fn apply_tensor(&self, guide: &Tensor, masks: &Tensor) -> Result<Tensor> {
        let (guide, p, dims) = self.prepare(guide, masks)?;
        self.filter_tensor(&guide, &p, dims)
    }

    /// Checks shapes; the guide and the masks upsampled to it, both f32,
    /// and [B, K, H, W].
    fn prepare(&self, guide: &Tensor, masks: &Tensor) -> Result<(Tensor, Tensor, [i64; 4])> {
        let (b, c, h, w) = guide.size4()?;
        let (mb, k, mh, mw) = masks.size4()?;
        if c != 3 || mb != b {
            return Err(Error::invalid(format!(
                "guided filter: guide {:?} and masks {:?} do not match",
                guide.size(),
                masks.size()
            )));
        }
        self.validate(h, w)?;
        let p = if (mh, mw) == (h, w) {
            masks.to_kind(Kind::Float)
        } else {
            masks.to_kind(Kind::Float).f_upsample_bilinear2d([h, w], false, None, None)?
        };
        Ok((guide.to_kind(Kind::Float), p, [b, k, h, w]))
    }

    fn filter_tensor(&self, guide: &Tensor, p: &Tensor, [b, k, h, w]: [i64; 4]) -> Result<Tensor> {
        let r = self.radius;
        // Mean over the window, counting only pixels inside the image (as
        // He's reference does at the borders).
        let mean = |x: &Tensor| x.f_avg_pool2d([2 * r + 1, 2 * r + 1], [1, 1], [r, r], false, false, None);
        let ch = |i: i64| guide.narrow(1, i, 1); // [B, 1, H, W]
        let mean_i = mean(guide)?; // [B, 3, H, W]
        let mean_p = mean(p)?; // [B, K, H, W]
        let mi = |i: i64| mean_i.narrow(1, i, 1);
        // Colour covariance per window (6 distinct entries), regularised.
        let pairs = [(0, 0), (0, 1), (0, 2), (1, 1), (1, 2), (2, 2)];
        let products = Tensor::f_cat(&pairs.map(|(i, j)| ch(i) * ch(j)), 1)?;
        let corr = mean(&products)?;
        let var = |n: usize| {
            let (i, j) = pairs[n];
            let v = corr.narrow(1, n as i64, 1) - mi(i) * mi(j);
            if i == j {
                v + self.eps
            } else {
                v
            }
        };
        let (vrr, vrg, vrb, vgg, vgb, vbb) = (var(0), var(1), var(2), var(3), var(4), var(5));
        // Covariance of colour and mask: [B, 3, K, H, W].
        let ip = (guide.unsqueeze(2) * p.unsqueeze(1)).f_reshape([b, 3 * k, h, w])?;
        let cov = mean(&ip)?.f_reshape([b, 3, k, h, w])? - mean_i.unsqueeze(2) * mean_p.unsqueeze(1);
        let (cr, cg, cb) = (cov.select(1, 0), cov.select(1, 1), cov.select(1, 2)); // [B, K, H, W]
                                                                                   // Inverse of the symmetric 3x3 by its adjugate: one closed form per
                                                                                   // pixel instead of a batched solver.
        let i00 = &vgg * &vbb - &vgb * &vgb;
        let i01 = &vrb * &vgb - &vrg * &vbb;
        let i02 = &vrg * &vgb - &vrb * &vgg;
        let i11 = &vrr * &vbb - &vrb * &vrb;
        let i12 = &vrg * &vrb - &vrr * &vgb;
        let i22 = &vrr * &vgg - &vrg * &vrg;
        let det = &vrr * &i00 + &vrg * &i01 + &vrb * &i02;
        let ar = (&i00 * &cr + &i01 * &cg + &i02 * &cb) / &det;
        let ag = (&i01 * &cr + &i11 * &cg + &i12 * &cb) / &det;
        let ab = (&i02 * &cr + &i12 * &cg + &i22 * &cb) / &det;
        let offset = &mean_p - &ar * mi(0) - &ag * mi(1) - &ab * mi(2);
        let q = mean(&ar)? * ch(0) + mean(&ag)? * ch(1) + mean(&ab)? * ch(2) + mean(&offset)?;
        let q = q.clamp_min(0.0);
        Ok(&q / q.sum_dim_intlist(1, true, Kind::Float).clamp_min(1e-8))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::Device;

    const F: GuidedFilter = GuidedFilter { radius: 2, eps: 1e-3 };

    /// A 2-slot soft mask over [1, 1, h, w] columns: slot 0's share falls
    /// linearly from 1 to 0 across `from..to`.
    fn ramp(h: i64, w: i64, from: i64, to: i64) -> Tensor {
        let cols = Tensor::arange(w, (Kind::Float, Device::Cpu));
        let left = ((Tensor::from(to as f32) - cols) / (to - from) as f64).clamp(0.0, 1.0).view([1, 1, 1, w]);
        let left = left.expand([1, 1, h, w], false);
        Tensor::cat(&[&left, &(1.0 - &left)], 1)
    }

    /// Red left of column `edge`, blue from it on.
    fn two_colours(h: i64, w: i64, edge: i64) -> Tensor {
        let cols = Tensor::arange(w, (Kind::Float, Device::Cpu)).view([1, 1, 1, w]).expand([1, 1, h, w], false);
        let left = cols.lt(edge as f64).to_kind(Kind::Float);
        Tensor::cat(&[&left, &(&left * 0.0), &(1.0 - &left)], 1)
    }

    #[test]
    fn a_constant_mask_passes_unchanged_and_masks_still_sum_to_one() {
        let guide = Tensor::rand([2, 3, 16, 20], (Kind::Float, Device::Cpu));
        let flat = Tensor::full([2, 4, 8, 10], 0.25, (Kind::Float, Device::Cpu));
        let out = F.apply(&guide, &flat).unwrap();
        assert_eq!(out.size(), [2, 4, 16, 20]);
        assert!(f64::try_from((&out - 0.25).abs().max()).unwrap() < 1e-5);
        let soft = Tensor::rand([2, 4, 8, 10], (Kind::Float, Device::Cpu)).softmax(1, Kind::Float);
        let out = F.apply(&guide, &soft).unwrap();
        assert!(f64::try_from(out.min()).unwrap() >= 0.0);
        let sums = out.sum_dim_intlist(1, false, Kind::Float);
        assert!(f64::try_from((sums - 1.0).abs().max()).unwrap() < 1e-5);
    }

    #[test]
    fn a_blurred_boundary_moves_onto_the_colour_edge() {
        // The mask's own boundary (where the ramp crosses 1/2) is at
        // column 21, blurred over 8 columns; the image's edge is at 20.
        let (h, w, edge) = (16, 32, 20);
        let masks = ramp(h, w, 17, 25);
        let filter = GuidedFilter { radius: 4, eps: 1e-3 };
        let truth = Tensor::arange(w, (Kind::Int64, Device::Cpu)).ge(edge).view([1, 1, w]).expand([1, h, w], false);
        let wrong = |m: &Tensor| i64::try_from(m.argmax(1, false).ne_tensor(&truth).sum(Kind::Int64)).unwrap();
        let refined = filter.apply(&two_colours(h, w, edge), &masks).unwrap();
        assert!(wrong(&masks) >= h, "the unrefined mask is off by a column");
        assert_eq!(wrong(&refined), 0, "refined masks follow the colour edge");
    }

    #[test]
    fn masks_at_a_lower_resolution_are_upsampled_first() {
        let masks = ramp(8, 16, 7, 13); // crosses 1/2 at 10 of 16, 20 of 32
        let refined = GuidedFilter { radius: 4, eps: 1e-3 }.apply(&two_colours(16, 32, 20), &masks).unwrap();
        assert_eq!(refined.size(), [1, 2, 16, 32]);
        let left = refined.get(0).get(0).get(5);
        assert!(f64::try_from(left.narrow(0, 0, 19).min()).unwrap() > 0.5);
        assert!(f64::try_from(left.narrow(0, 21, 11).max()).unwrap() < 0.5);
    }

    #[test]
    fn the_cpu_loops_agree_with_the_tensor_ops() {
        tch::manual_seed(3);
        for (b, k, h, w, filter) in [(2, 6, 64, 64, GuidedFilter { radius: 4, eps: 1e-3 }), (1, 3, 9, 13, F)] {
            let guide = Tensor::rand([b, 3, h, w], (Kind::Float, Device::Cpu));
            let masks = Tensor::rand([b, k, h / 2, w / 2], (Kind::Float, Device::Cpu)).softmax(1, Kind::Float);
            let fast = filter.apply(&guide, &masks).unwrap();
            let reference = filter.apply_tensor(&guide, &masks).unwrap();
            assert_eq!(fast.size(), reference.size());
            let worst = f64::try_from((&fast - &reference).abs().max()).unwrap();
            assert!(worst < 1e-5, "{b}x{k}x{h}x{w}: max abs difference {worst}");
        }
    }

    #[test]
    fn bad_settings_and_shapes_are_refused() {
        assert!(GuidedFilter { radius: 0, eps: 1e-3 }.validate(64, 64).is_err());
        assert!(GuidedFilter { radius: 32, eps: 1e-3 }.validate(64, 64).is_err());
        assert!(GuidedFilter { radius: 4, eps: 0.0 }.validate(64, 64).is_err());
        assert!(GuidedFilter { radius: 4, eps: f64::NAN }.validate(64, 64).is_err());
        assert!(GuidedFilter::for_input(64, 64).validate(64, 64).is_ok());
        assert_eq!(GuidedFilter::for_input(64, 48).radius, 3);
        let guide = Tensor::rand([1, 1, 16, 16], (Kind::Float, Device::Cpu));
        assert!(F.apply(&guide, &Tensor::rand([1, 2, 8, 8], (Kind::Float, Device::Cpu))).is_err());
    }

    #[test]
    fn the_config_round_trips_through_json() {
        let c = RefineConfig::GuidedFilter(GuidedFilter { radius: 4, eps: 1e-3 });
        let text = serde_json::to_string(&c).unwrap();
        assert_eq!(text, r#"{"kind":"guided_filter","radius":4,"eps":0.001}"#);
        assert_eq!(serde_json::from_str::<RefineConfig>(&text).unwrap(), c);
        assert!(serde_json::from_str::<RefineConfig>(r#"{"kind":"guided_filter","radius":4}"#).is_err());
        assert!(serde_json::from_str::<RefineConfig>(r#"{"kind":"crf","radius":4,"eps":1}"#).is_err());
    }
}
