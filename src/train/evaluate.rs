//! Running a model over clips with slot carry-over, and scoring the masks.

use tch::{Kind, Tensor};

use super::batch::ClipBatch;
use crate::error::Result;
use crate::metrics::{score_clip, ClipScores};
use crate::model::SlotModel;

/// Hard decoder masks [T, B, H, W] (argmax slot) over a batch of clips,
/// carrying slots from frame to frame; `carry` false re-initialises every
/// frame (the ablation). Gaussian init draws its noise from `seed`.
pub fn predict_masks(model: &SlotModel, batch: &ClipBatch, carry: bool, seed: i64) -> Tensor {
    tch::no_grad(|| {
        let frames = batch.frames01.size()[0];
        let b = batch.frames01.size()[1];
        let fresh = |offset: i64| {
            tch::manual_seed(seed + offset);
            let noise = Tensor::randn([b, model.num_slots(), model.slot_dim()], (Kind::Float, model.device()));
            model.init_slots(b, Some(&noise))
        };
        let mut init = fresh(0);
        let mut masks = Vec::new();
        for t in 0..frames {
            let images = model.normalize(&batch.frames01.get(t));
            let out = model.step(&images, &init, t == 0 || !carry);
            let soft = model.decode(&out.slots).masks;
            let (h, w) = (images.size()[2], images.size()[3]);
            // Decoders may work at a lower resolution: score at the input's.
            let soft = if soft.size()[2] != h { soft.upsample_bilinear2d([h, w], false, None, None) } else { soft };
            masks.push(soft.argmax(1, false));
            init = if carry { out.next_init } else { fresh(t + 1) };
        }
        Tensor::stack(&masks, 0)
    })
}

/// Mean scores over the clips of a batch.
pub fn score_batch(model: &SlotModel, batch: &ClipBatch, carry: bool, seed: i64) -> Result<ClipScores> {
    let pred = predict_masks(model, batch, carry, seed).to_kind(Kind::Int).to_device(tch::Device::Cpu);
    let (t, _, h, w) = pred.size4()?;
    let mut sums = [0.0f64; 6];
    let mut counted = [0u32; 6];
    for (i, clip) in batch.clips.iter().enumerate() {
        let p: Vec<i32> = Vec::try_from(pred.select(1, i as i64).flatten(0, -1))?;
        let truth: Vec<i32> = clip.ids.iter().map(|&x| x as i32).collect();
        let s = score_clip(&truth, &p, t as usize, h as usize, w as usize)?;
        for (j, v) in [s.ari, s.fg_ari, s.mbo, s.miou, s.video_fg_ari, s.video_mbo].into_iter().enumerate() {
            if v.is_finite() {
                sums[j] += v;
                counted[j] += 1;
            }
        }
    }
    let mean = |j: usize| if counted[j] > 0 { sums[j] / counted[j] as f64 } else { f64::NAN };
    Ok(ClipScores {
        ari: mean(0),
        fg_ari: mean(1),
        mbo: mean(2),
        miou: mean(3),
        video_fg_ari: mean(4),
        video_mbo: mean(5),
        frames_with_objects: counted[1],
    })
}
