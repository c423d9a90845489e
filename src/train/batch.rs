//! Batches of synthetic clips as tensors.

use tch::{Device, Kind, Tensor};

use crate::data::{generate_clip, Clip, Split, SynthConfig};
use crate::error::Result;

/// A batch of clips: frames [T, B, 3, H, W] scaled to [0, 1], and the
/// ground-truth ids of every clip (for evaluation).
#[derive(Debug)]
pub struct ClipBatch {
    pub frames01: Tensor,
    pub clips: Vec<Clip>,
}

/// Stacks clips (same size and length) into a batch on `device`.
pub fn stack_clips(clips: Vec<Clip>, device: Device) -> ClipBatch {
    let first = &clips[0];
    let (t, h, w) = (first.frames as i64, first.height as i64, first.width as i64);
    let b = clips.len() as i64;
    let mut bytes = Vec::with_capacity((t * b * h * w * 3) as usize);
    for frame in 0..t as usize {
        for clip in &clips {
            bytes.extend_from_slice(clip.frame_rgb(frame));
        }
    }
    let frames01 = Tensor::from_slice(&bytes)
        .view([t, b, h, w, 3])
        .permute([0, 1, 4, 2, 3])
        // Contiguous NCHW, the layout the runtime feeds: a channels-last
        // view would send convolutions down other kernels (other rounding).
        .contiguous()
        .to_kind(Kind::Float)
        .to_device(device)
        / 255.0;
    ClipBatch { frames01, clips }
}

/// Clips `first_index..first_index + batch` of a split.
pub fn clip_batch(
    config: &SynthConfig,
    split: Split,
    first_index: u64,
    batch: usize,
    device: Device,
) -> Result<ClipBatch> {
    let clips = (0..batch as u64).map(|i| generate_clip(config, split, first_index + i)).collect::<Result<Vec<_>>>()?;
    Ok(stack_clips(clips, device))
}

impl ClipBatch {
    /// Instance ids [B, H, W] (int64, 0 = background) per frame.
    pub fn instance_ids(&self, device: Device) -> Vec<Tensor> {
        let first = &self.clips[0];
        let (h, w) = (first.height as i64, first.width as i64);
        (0..first.frames as usize)
            .map(|t| {
                let ids: Vec<u8> = self.clips.iter().flat_map(|c| c.frame_ids(t).iter().copied()).collect();
                Tensor::from_slice(&ids).view([self.clips.len() as i64, h, w]).to_kind(Kind::Int64).to_device(device)
            })
            .collect()
    }
}
