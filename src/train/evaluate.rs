//! Running a model over clips with slot carry-over, and scoring the masks.

use tch::{Kind, Tensor};

use super::batch::ClipBatch;
use crate::error::Result;
use crate::metrics::{score_clip, ClipScores};
use crate::model::grouping::InitInput;
use crate::model::SlotModel;

/// Hard masks [T, B, H, W] (argmax slot of the model's own masks, refined
/// as its config's `refine` says: what sessions serve) over a batch of clips,
/// carrying slots from frame to frame; `carry` false re-initialises every
/// frame (the ablation). Gaussian init draws its noise from `seed`.
pub fn predict_masks(model: &SlotModel, batch: &ClipBatch, carry: bool, seed: i64) -> Result<Tensor> {
    tch::no_grad(|| {
        let frames = batch.frames01.size()[0];
        let b = batch.frames01.size()[1];
        // Seeded per frame, independent of libtorch's global generator.
        let fresh = |offset: i64| model.init_slots(b, InitInput::Seed((seed + offset) as u64));
        let mut init = fresh(0)?;
        let mut masks = Vec::new();
        for t in 0..frames {
            let images = model.normalize(&batch.frames01.get(t));
            let out = model.step(&images, &init, t == 0 || !carry)?;
            // Masks may come at a lower resolution: score at the input's.
            let own = model.own_masks(&out, None, None);
            masks.push(model.masks_at_input(&own, &images, model.refine_filter().as_ref())?.argmax(1, false));
            init = if carry { out.next_init } else { fresh(t + 1)? };
        }
        Ok(Tensor::stack(&masks, 0))
    })
}

/// Running means of clip scores; a NaN (nothing to score) is skipped.
#[derive(Clone, Debug, Default)]
pub struct MeanScores {
    sums: [f64; 6],
    counts: [u32; 6],
    pub clips: usize,
}

impl MeanScores {
    pub fn add(&mut self, s: &ClipScores) {
        for (j, v) in [s.ari, s.fg_ari, s.mbo, s.miou, s.video_fg_ari, s.video_mbo].into_iter().enumerate() {
            if v.is_finite() {
                self.sums[j] += v;
                self.counts[j] += 1;
            }
        }
        self.clips += 1;
    }

    /// Means; `frames_with_objects` holds the number of clips with objects.
    pub fn mean(&self) -> ClipScores {
        let m = |j: usize| {
            if self.counts[j] > 0 {
                self.sums[j] / self.counts[j] as f64
            } else {
                f64::NAN
            }
        };
        ClipScores {
            ari: m(0),
            fg_ari: m(1),
            mbo: m(2),
            miou: m(3),
            video_fg_ari: m(4),
            video_mbo: m(5),
            frames_with_objects: self.counts[1],
        }
    }
}

/// Scores every clip of a batch given hard predictions [T, B, H, W].
pub fn score_predictions(batch: &ClipBatch, pred: &Tensor, into: &mut MeanScores) -> Result<()> {
    let pred = pred.to_kind(Kind::Int).to_device(tch::Device::Cpu);
    let (t, _, h, w) = pred.size4()?;
    for (i, clip) in batch.clips.iter().enumerate() {
        let p: Vec<i32> = Vec::try_from(pred.select(1, i as i64).flatten(0, -1))?;
        let truth: Vec<i32> = clip.ids.iter().map(|&x| x as i32).collect();
        into.add(&score_clip(&truth, &p, t as usize, h as usize, w as usize)?);
    }
    Ok(())
}

/// Mean scores over the clips of a batch.
pub fn score_batch(model: &SlotModel, batch: &ClipBatch, carry: bool, seed: i64) -> Result<ClipScores> {
    let mut means = MeanScores::default();
    score_predictions(batch, &predict_masks(model, batch, carry, seed)?, &mut means)?;
    Ok(means.mean())
}

/// Mean scores of `model` on clips `0..clips` of `split` drawn from `data`,
/// `batch` clips per forward pass.
pub fn score_split(
    model: &SlotModel,
    data: &crate::data::SynthConfig,
    split: crate::data::Split,
    clips: usize,
    batch: usize,
    carry: bool,
) -> Result<ClipScores> {
    let mut means = MeanScores::default();
    let mut first = 0;
    while first < clips {
        let n = batch.max(1).min(clips - first);
        let b = super::batch::clip_batch(data, split, first as u64, n, model.device())?;
        score_predictions(&b, &predict_masks(model, &b, carry, 0)?, &mut means)?;
        first += n;
    }
    Ok(means.mean())
}
