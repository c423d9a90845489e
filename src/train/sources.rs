//! Where training clips come from: the built-in generator and clip files
//! (MuJoCo renders, recordings), mixed by weight.

use std::path::PathBuf;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use tch::Device;

use super::batch::{stack_clips, ClipBatch};
use crate::data::{generate_clip, list_clip_files, load_clip_file, Clip, Split, SynthConfig};
use crate::error::{Error, Result};

/// One source of a training mix: clip files under `path` (a folder of
/// `.npz` / PNG clips, see `data::files`), or the built-in generator (the
/// config's `data`) when `path` is absent.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataSource {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<PathBuf>,
    pub weight: f64,
}

/// The sources of a run, file clips held in memory.
pub struct ClipSources {
    generator: SynthConfig,
    /// (weight, clips); `None` clips = the generator.
    mix: Vec<(f64, Option<Vec<Clip>>)>,
    clip_frames: u32,
    seed: u64,
}

impl ClipSources {
    /// `sources` empty means the generator alone. File clips must have the
    /// generator's frame size, at least `clip_frames` frames, and ids.
    pub fn new(sources: &[DataSource], generator: &SynthConfig, clip_frames: u32, seed: u64) -> Result<Self> {
        let generator = SynthConfig { frames: clip_frames, ..generator.clone() };
        if sources.is_empty() {
            return Ok(ClipSources { generator, mix: vec![(1.0, None)], clip_frames, seed });
        }
        if sources.iter().any(|s| !(s.weight.is_finite() && s.weight > 0.0)) {
            return Err(Error::invalid("every data source needs a positive, finite weight"));
        }
        let mut mix = Vec::new();
        for source in sources {
            let Some(path) = &source.path else {
                mix.push((source.weight, None));
                continue;
            };
            let mut clips = Vec::new();
            for file in list_clip_files(path)? {
                let clip = load_clip_file(&file, true)?;
                if (clip.width, clip.height) != (generator.width, generator.height) || clip.frames < clip_frames {
                    return Err(Error::invalid(format!(
                        "{}: clip is {}x{} with {} frames; training needs {}x{} and at least {clip_frames} frames",
                        file.display(),
                        clip.width,
                        clip.height,
                        clip.frames,
                        generator.width,
                        generator.height
                    )));
                }
                clips.push(clip);
            }
            mix.push((source.weight, Some(clips)));
        }
        Ok(ClipSources { generator, mix, clip_frames, seed })
    }

    /// Clip counts per source (None for the generator), for logs.
    pub fn sizes(&self) -> Vec<Option<usize>> {
        self.mix.iter().map(|(_, c)| c.as_ref().map(Vec::len)).collect()
    }

    /// The batch of `step`: a pure function of (seed, step), so a resumed
    /// run sees the batches an uninterrupted one would have.
    pub fn batch(&self, step: u64, batch: usize, device: Device) -> Result<ClipBatch> {
        let mut rng = ChaCha8Rng::seed_from_u64(self.seed ^ step.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        let total: f64 = self.mix.iter().map(|(w, _)| w).sum();
        let mut clips = Vec::with_capacity(batch);
        for i in 0..batch {
            let mut pick = rng.random::<f64>() * total;
            let source = self.mix.iter().find(|(w, _)| {
                pick -= w;
                pick < 0.0
            });
            match source.unwrap_or(self.mix.last().expect("a source")) {
                (_, None) => clips.push(generate_clip(&self.generator, Split::Train, step * batch as u64 + i as u64)?),
                (_, Some(files)) => {
                    let clip = &files[rng.random_range(0..files.len())];
                    let start = rng.random_range(0..=clip.frames - self.clip_frames);
                    clips.push(clip.window(start, self.clip_frames));
                }
            }
        }
        Ok(stack_clips(clips, device))
    }
}
