//! The training objective over a clip with slots carried frame to frame,
//! shared by the offline trainer and online fine-tuning: reconstruction,
//! DIAS self-distillation, CODA contrastive alignment and guided masks
//! (`../shared/MODELS.md` section 5).

use tch::{Kind, Tensor};

use super::losses::{self_distillation, LossWeights};
use crate::error::{Error, Result};
use crate::metrics::hungarian::max_weight_assignment;
use crate::model::config::{DecoderTarget, MaskKind};
use crate::model::SlotModel;

/// Each term averaged over the clip's frames, and their weighted sum.
#[derive(Debug)]
pub struct Terms {
    pub total: Tensor,
    pub reconstruction: Tensor,
    pub self_distillation: Tensor,
    /// The CODA negative term, -lambda * err(negative).
    pub contrastive: Tensor,
    pub guided: Tensor,
}

impl Terms {
    /// Term values as JSON, for logs and stats.
    pub fn values(&self) -> [(&'static str, f64); 4] {
        [
            ("reconstruction", self.reconstruction.double_value(&[])),
            ("self_distillation", self.self_distillation.double_value(&[])),
            ("contrastive", self.contrastive.double_value(&[])),
            ("guided", self.guided.double_value(&[])),
        ]
    }
}

/// Computes the objective; holds the frozen decoder copy CODA needs.
pub struct Objective {
    pub weights: LossWeights,
    /// A copy of the model whose weights are synced and frozen before each
    /// use: the CODA negative's error must not train the decoder.
    frozen: Option<SlotModel>,
}

impl Objective {
    pub fn new(model: &SlotModel, weights: LossWeights) -> Result<Self> {
        let frozen = if weights.contrastive > 0.0 {
            let mut copy = SlotModel::with_base_dir(&model.config, model.device(), None)?;
            copy.vs.freeze();
            Some(copy)
        } else {
            None
        };
        Ok(Objective { weights, frozen })
    }

    /// The loss of a clip: `frames` are normalised images [B, 3, H, W] per
    /// frame, `init` the first frame's slots; `guide`, if given, holds
    /// instance ids [B, H, W] (int64, 0 = background, at the input size)
    /// per frame for the guided-mask term. `step` drives the
    /// self-distillation ramp.
    pub fn clip_terms(
        &mut self,
        model: &SlotModel,
        frames: &[Tensor],
        init: Tensor,
        step: u64,
        guide: Option<&[Tensor]>,
    ) -> Result<Terms> {
        if frames.is_empty() {
            return Err(Error::invalid("a training clip needs at least one frame"));
        }
        let w = self.weights.clone();
        let zero = || Tensor::zeros([], (Kind::Float, model.device()));
        let (mut recon, mut distill, mut contrast, mut guided) = (zero(), zero(), zero(), zero());
        if let Some(frozen) = &mut self.frozen {
            tch::no_grad(|| frozen.vs.copy(&model.vs))?;
        }
        let downscale = model.config.decoder_downscale();
        let mut init = init;
        let mut guided_masks = Vec::new();
        let guiding = guide.is_some() && w.guided > 0.0;
        // The decoder is most of a step's compute; a model guided on its
        // attention masks with reconstruction off never needs it.
        let needs_decoder =
            w.reconstruction > 0.0 || self.frozen.is_some() || (guiding && model.config.masks == MaskKind::Decoder);
        for (t, images) in frames.iter().enumerate() {
            let out = model.step(images, &init, t == 0)?;
            let decoded = needs_decoder.then(|| model.decode(&out.slots));
            if let Some(decoded) = &decoded {
                let target = match model.config.decoder.target() {
                    DecoderTarget::Features => out.features.detach(),
                    DecoderTarget::Pixels if downscale > 1 => {
                        images.avg_pool2d([downscale, downscale], [downscale, downscale], [0, 0], false, true, None)
                    }
                    DecoderTarget::Pixels => images.shallow_clone(),
                };
                recon += decoded.reconstruction.mse_loss(&target, tch::Reduction::Mean);
                if let Some(frozen) = &self.frozen {
                    contrast += -w.contrastive * coda_negative_error(frozen, &out.slots, &target)?;
                }
            }
            if w.self_distillation > 0.0 {
                distill += self_distillation(&out.attention);
            }
            if let (Some(guide), true) = (guide, guiding) {
                let ids = guide.get(t).ok_or_else(|| Error::invalid("guide masks must cover every frame"))?;
                // Scored at the guide's (input) resolution, upsampled as
                // evaluation does: guides sampled down to the mask grid
                // shifted every mask by half a cell.
                let size = (ids.size()[1], ids.size()[2]);
                guided_masks.push(model.own_masks(&out, decoded.as_ref(), Some(size)));
            }
            init = out.next_init;
        }
        if let (Some(guide), false) = (guide, guided_masks.is_empty()) {
            guided = guided_mask_loss(&guided_masks, &guide[..guided_masks.len()])?;
        }
        let n = frames.len() as f64;
        let (recon, distill, contrast) = (recon / n, distill / n, contrast / n);
        let total =
            w.reconstruction * &recon + w.self_distillation_at(step) * &distill + &contrast + w.guided * &guided;
        Ok(Terms { total, reconstruction: recon, self_distillation: distill, contrastive: contrast, guided })
    }
}

/// CODA: swap the first half of the slots between samples of the batch
/// (a cyclic shift) and measure how well the frozen decoder explains the
/// frame from them. Gradients reach the slots only.
fn coda_negative_error(frozen: &SlotModel, slots: &Tensor, target: &Tensor) -> Result<Tensor> {
    let (b, k, _) = slots.size3()?;
    if b < 2 {
        return Err(Error::invalid("the contrastive term needs at least 2 clips per batch"));
    }
    let half = (k / 2).max(1);
    let swapped = Tensor::cat(&[slots.narrow(1, 0, half).roll([1], [0]), slots.narrow(1, half, k - half)], 1);
    let negative = frozen.decode(&swapped).reconstruction;
    Ok(negative.mse_loss(target, tch::Reduction::Mean))
}

/// GLASS-style guidance over a clip: `masks` are soft slot masks
/// [B, K, H, W] and `ids` instance ids [B, H, W] per frame. Per sample, slots
/// are matched to the given instances (background included) once for the
/// whole clip, by maximum soft IoU of their space-time volumes, so a slot
/// that follows an object is rewarded and one that swaps objects between
/// frames is not (ids must name the same object in every frame, as a
/// simulator's instance ids do). The loss is the soft Dice loss per matched
/// pair and frame where the instance is visible, averaged (each instance
/// counts the same, whatever its size), plus the per-pixel cross-entropy of
/// every covered pixel under its instance's slot, averaged over pixels.
///
/// The weighting was measured (8 validation clips, 100 steps from the
/// unguided model, FG-ARI / mBO 0.757 / 0.580 before): Dice plus a
/// cross-entropy averaged per instance (each instance's pixels weighted by
/// 1 / its area) reached 0.803 / 0.448: the small objects' pixels weigh so
/// much that their slots bloat over the background, and IoU falls.
/// Per-pixel BCE alone merged small objects into the background.
pub fn guided_mask_loss(masks: &[Tensor], ids: &[Tensor]) -> Result<Tensor> {
    let Some(first) = masks.first() else {
        return Err(Error::invalid("guided masks need at least one frame"));
    };
    let (b, k, h, w) = first.size4()?;
    if ids.len() != masks.len() {
        return Err(Error::invalid(format!("{} frames of masks but {} of guide ids", masks.len(), ids.len())));
    }
    if let Some(bad) = ids.iter().find(|i| i.size() != [b, h, w]) {
        return Err(Error::invalid(format!(
            "guide masks must be [{b}, {h}, {w}] (batch, mask size), got {:?}",
            bad.size()
        )));
    }
    let device = first.device();
    // [T, B, K, HW] and [T, B, HW]
    let masks = Tensor::stack(masks, 0).flatten(3, -1);
    let ids = Tensor::stack(ids, 0).flatten(2, -1).to_device(device).to_kind(Kind::Int64);
    let ids_cpu = ids.to_device(tch::Device::Cpu);
    let log_p = masks.clamp_min(1e-6).log();
    let mut dice_loss = Tensor::zeros([], (Kind::Float, device));
    let mut cross_entropy = Tensor::zeros([], (Kind::Float, device));
    let (mut pairs, mut covered) = (0i64, 0.0f64);
    for s in 0..b {
        let sample: Vec<i64> = Vec::try_from(ids_cpu.select(1, s).flatten(0, -1))?;
        let present: Vec<i64> = sample.into_iter().collect::<std::collections::BTreeSet<_>>().into_iter().collect();
        // More instances over a clip than slots (objects entering and
        // leaving): the matching leaves the worst-matched ones out.
        let id_values = Tensor::from_slice(&present).view([1, -1, 1]).to_device(device);
        let onehot = ids.select(1, s).unsqueeze(1).eq_tensor(&id_values).to_kind(Kind::Float); // [T, M, HW]
        let pred = masks.select(1, s); // [T, K, HW]
        let p = pred.detach();
        let inter = onehot.matmul(&p.transpose(1, 2)).sum_dim_intlist(0, false, Kind::Float); // [M, K]
        let union = onehot.sum_dim_intlist([0, 2].as_slice(), false, Kind::Float).unsqueeze(1)
            + p.sum_dim_intlist([0, 2].as_slice(), false, Kind::Float).unsqueeze(0)
            - &inter;
        let iou: Vec<f64> = Vec::try_from((inter / union.clamp_min(1e-6)).to_kind(Kind::Double).flatten(0, -1))?;
        let areas: Vec<f64> = Vec::try_from(onehot.sum_dim_intlist(2, false, Kind::Double).flatten(0, -1))?; // [T * M]
        let m = present.len();
        for (row, col) in max_weight_assignment(&iou, m, k as usize).into_iter().enumerate() {
            let Some(col) = col else { continue };
            let instance = onehot.select(1, row as i64); // [T, HW]
            let slot = pred.select(1, col as i64);
            let inter = (&slot * &instance).sum_dim_intlist(1, false, Kind::Float);
            let dice = inter * 2.0
                / (slot.sum_dim_intlist(1, false, Kind::Float) + instance.sum_dim_intlist(1, false, Kind::Float))
                    .clamp_min(1e-6);
            let log_slot = (log_p.select(1, s).select(1, col as i64) * &instance).sum(Kind::Float);
            // Frames where the instance is hidden carry no signal for it.
            let visible: Vec<f32> =
                (0..masks.size()[0] as usize).map(|t| (areas[t * m + row] > 0.0) as u8 as f32).collect();
            let visible_terms: Tensor = (1.0 - dice) * Tensor::from_slice(&visible).to_device(device);
            dice_loss += visible_terms.sum(Kind::Float);
            pairs += visible.iter().filter(|&&v| v > 0.0).count() as i64;
            cross_entropy -= log_slot;
            covered += (0..visible.len()).map(|t| areas[t * m + row]).sum::<f64>();
        }
    }
    Ok(dice_loss / pairs.max(1) as f64 + cross_entropy / covered.max(1.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn loss(masks: &Tensor, ids: &Tensor) -> f64 {
        guided_mask_loss(&[masks.shallow_clone()], &[ids.shallow_clone()]).unwrap().double_value(&[])
    }

    #[test]
    fn guided_loss_is_small_for_matching_masks_and_large_for_swapped_ones() {
        // Two instances (background 0 and object 1) and K = 3 slots.
        let ids = Tensor::from_slice(&[0i64, 0, 1, 1]).view([1, 2, 2]);
        let good = Tensor::from_slice(&[0.98f32, 0.98, 0.01, 0.01, 0.01, 0.01, 0.98, 0.98, 0.01, 0.01, 0.01, 0.01])
            .view([1, 3, 2, 2]);
        let bad = Tensor::from_slice(&[0.5f32, 0.5, 0.5, 0.5, 0.25, 0.25, 0.25, 0.25, 0.25, 0.25, 0.25, 0.25])
            .view([1, 3, 2, 2]);
        let lg = loss(&good, &ids);
        let lb = loss(&bad, &ids);
        assert!(lg < 0.05 && lb > 0.5, "{lg} {lb}");
        // One object pixel in a 4x4 frame: giving it to the background slot
        // must cost as much as any object error, not 1/16 of it.
        let mut small = vec![0i64; 16];
        small[5] = 1;
        let small = Tensor::from_slice(&small).view([1, 4, 4]);
        let onehot = |slot: i64| {
            let mut m = vec![0.01f32; 32];
            for i in 0..16 {
                m[if i == 5 { slot } else { 0 } as usize * 16 + i] = 0.99;
            }
            Tensor::from_slice(&m).view([1, 2, 4, 4])
        };
        let right = loss(&onehot(1), &small);
        let merged = loss(&onehot(0), &small);
        assert!(right < 0.1 && merged > 0.7, "{right} {merged}");
        let too_many = Tensor::from_slice(&[0i64, 1, 2, 3]).view([1, 2, 2]);
        let crowded = guided_mask_loss(&[good.shallow_clone()], &[too_many]).unwrap().double_value(&[]);
        assert!(crowded.is_finite(), "more instances than slots leaves some out: {crowded}");
        assert!(guided_mask_loss(&[good.shallow_clone()], &[ids.view([1, 4, 1])]).is_err());
        assert!(guided_mask_loss(&[good.shallow_clone()], &[]).is_err());
    }

    #[test]
    fn a_slot_that_swaps_objects_between_frames_costs_more_than_one_that_follows() {
        // Background 0 left, object 1 right, in both frames; K = 2.
        let ids = Tensor::from_slice(&[0i64, 1]).view([1, 1, 2]);
        let slot0_left = Tensor::from_slice(&[0.98f32, 0.02, 0.02, 0.98]).view([1, 2, 1, 2]);
        let slot0_right = Tensor::from_slice(&[0.02f32, 0.98, 0.98, 0.02]).view([1, 2, 1, 2]);
        let clip = |second: &Tensor| {
            guided_mask_loss(
                &[slot0_left.shallow_clone(), second.shallow_clone()],
                &[ids.shallow_clone(), ids.shallow_clone()],
            )
            .unwrap()
            .double_value(&[])
        };
        let (follows, swaps) = (clip(&slot0_left), clip(&slot0_right));
        assert!(follows < 0.1 && swaps > 1.0, "{follows} {swaps}");
        // A frame where an instance is hidden does not count for it: what
        // its slot does there changes nothing.
        let hidden = Tensor::from_slice(&[0i64, 0]).view([1, 1, 2]);
        let second = |slot1: [f32; 2]| {
            let m = Tensor::from_slice(&[0.98f32, 0.02, slot1[0], slot1[1]]).view([1, 2, 1, 2]);
            guided_mask_loss(&[slot0_left.shallow_clone(), m], &[ids.shallow_clone(), hidden.shallow_clone()])
                .unwrap()
                .double_value(&[])
        };
        let (a, b) = (second([0.02, 0.98]), second([0.5, 0.5]));
        assert!(a.is_finite() && (a - b).abs() < 1e-6, "{a} {b}");
    }
}
