//! Clips: a rendered sequence of frames with per-pixel object ids, and the
//! deterministic generator that produces them.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use super::config::SynthConfig;
use super::scene::Scene;
use super::split::{clip_seed, Split};
use crate::error::{Error, Result};

/// Refuse clips larger than this (RGB plus ids), so a typo in `frames` or the
/// size gives an error rather than an allocation failure.
pub const MAX_CLIP_BYTES: u64 = 4 << 30;

/// A rendered clip with ground truth.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Clip {
    pub width: u32,
    pub height: u32,
    pub frames: u32,
    /// `frames * height * width * 3` bytes: frames of row-major RGB (HWC).
    pub rgb: Vec<u8>,
    /// `frames * height * width` object ids: 0 is the background, `1..=n`
    /// the objects, the same id for the same object in every frame.
    pub ids: Vec<u8>,
    /// Number of objects in the scene (some may be off-screen or hidden in
    /// some frames).
    pub num_objects: u32,
    /// RNG seed the clip was generated from (see `clip_seed`).
    pub seed: u64,
}

impl Clip {
    /// Pixels per frame.
    pub fn frame_pixels(&self) -> usize {
        self.width as usize * self.height as usize
    }

    /// RGB of frame `t` (`height * width * 3` bytes). Panics if `t >= frames`.
    pub fn frame_rgb(&self, t: usize) -> &[u8] {
        let n = self.frame_pixels() * 3;
        &self.rgb[self.frame_range(t, n)]
    }

    /// Object ids of frame `t` (`height * width` bytes). Panics if `t >= frames`.
    pub fn frame_ids(&self, t: usize) -> &[u8] {
        let n = self.frame_pixels();
        &self.ids[self.frame_range(t, n)]
    }

    /// Frames `start..start + len` as a clip of their own. Panics if the
    /// clip is shorter.
    pub fn window(&self, start: u32, len: u32) -> Clip {
        let (n, s, e) = (self.frame_pixels(), start as usize, (start + len) as usize);
        assert!(e <= self.frames as usize, "window {s}..{e} of a {}-frame clip", self.frames);
        Clip {
            rgb: self.rgb[s * n * 3..e * n * 3].to_vec(),
            ids: self.ids[s * n..e * n].to_vec(),
            frames: len,
            width: self.width,
            height: self.height,
            num_objects: self.num_objects,
            seed: self.seed,
        }
    }

    /// The first `frames` frames (all of them if the clip is shorter).
    pub fn truncated(mut self, frames: u32) -> Clip {
        let t = frames.min(self.frames) as usize;
        self.rgb.truncate(t * self.frame_pixels() * 3);
        self.ids.truncate(t * self.frame_pixels());
        self.frames = t as u32;
        self
    }

    /// Byte range of frame `t` in a buffer with `n` bytes per frame.
    fn frame_range(&self, t: usize, n: usize) -> std::ops::Range<usize> {
        let frames = self.frames as usize;
        assert!(t < frames, "frame {t} out of range (clip has {frames})");
        t * n..(t + 1) * n
    }
}

/// Generates clip `index` of `split`: validates `config`, seeds ChaCha8 with
/// `clip_seed(split, index)`, samples a scene and renders `config.frames`
/// frames. Same inputs give a byte-identical clip on every run.
pub fn generate_clip(config: &SynthConfig, split: Split, index: u64) -> Result<Clip> {
    config.validate()?;
    let seed = clip_seed(split, index)?;
    // Before sampling: the background alone can be large.
    check_clip_size(config.width, config.height, config.frames)?;
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut scene = Scene::random(config, &mut rng)?;
    record_clip(&mut scene, config.frames, seed)
}

/// Renders `frames` frames of `scene`, advancing it after each, and leaves
/// the scene at the state after the last frame. `seed` is stored as is.
pub fn record_clip(scene: &mut Scene, frames: u32, seed: u64) -> Result<Clip> {
    check_clip_size(scene.width, scene.height, frames)?;
    let n = scene.pixels();
    let mut rgb = vec![0u8; n * 3 * frames as usize];
    let mut ids = vec![0u8; n * frames as usize];
    for (rgb_t, ids_t) in rgb.chunks_exact_mut(n * 3).zip(ids.chunks_exact_mut(n)) {
        scene.render_into(rgb_t, ids_t)?;
        scene.advance();
    }
    Ok(Clip {
        width: scene.width,
        height: scene.height,
        frames,
        rgb,
        ids,
        num_objects: scene.objects.len() as u32,
        seed,
    })
}

/// Rejects empty clips and clips over `MAX_CLIP_BYTES`.
fn check_clip_size(width: u32, height: u32, frames: u32) -> Result<()> {
    if frames == 0 {
        return Err(Error::invalid("frames must be at least 1"));
    }
    let bytes = u64::from(width) * u64::from(height) * 4 * u64::from(frames);
    if bytes > MAX_CLIP_BYTES || bytes > usize::MAX as u64 {
        return Err(Error::invalid(format!(
            "frames: a {width}x{height}x{frames} clip needs {bytes} bytes, more than the \
             {MAX_CLIP_BYTES}-byte limit"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::kinds::MotionKind;

    #[test]
    fn deterministic_per_index() {
        let c = SynthConfig::default();
        let a = generate_clip(&c, Split::Train, 3).unwrap();
        let b = generate_clip(&c, Split::Train, 3).unwrap();
        assert_eq!(a, b);
        let other = generate_clip(&c, Split::Train, 4).unwrap();
        assert_ne!(a.rgb, other.rgb);
        assert_eq!(a.seed, 3);
        assert_eq!(a.rgb.len(), 16 * 64 * 64 * 3);
        assert_eq!(a.ids.len(), 16 * 64 * 64);
    }

    #[test]
    fn splits_give_different_clips() {
        let c = SynthConfig::default();
        let clips: Vec<Clip> = [Split::Train, Split::Validation, Split::Test]
            .into_iter()
            .map(|s| generate_clip(&c, s, 0).unwrap())
            .collect();
        assert_ne!(clips[0].rgb, clips[1].rgb);
        assert_ne!(clips[1].rgb, clips[2].rgb);
        assert_ne!(clips[0].rgb, clips[2].rgb);
        assert!(generate_clip(&c, Split::Test, 1 << 40).is_err());
    }

    #[test]
    fn counts_are_uniform_in_range_and_ids_valid() {
        let c = SynthConfig { frames: 2, ..SynthConfig::default() };
        let mut seen = [0u32; 6];
        for i in 0..120 {
            let clip = generate_clip(&c, Split::Train, i).unwrap();
            assert!((2..=5).contains(&clip.num_objects));
            seen[clip.num_objects as usize] += 1;
            assert!(clip.ids.iter().all(|&id| u32::from(id) <= clip.num_objects));
        }
        // Every count occurs (each has probability 1/4 per clip).
        assert!(seen[2..].iter().all(|&k| k >= 10), "{seen:?}");
    }

    #[test]
    fn rgb_agrees_with_ids_in_every_frame() {
        let c = SynthConfig::default();
        let clip = generate_clip(&c, Split::Validation, 7).unwrap();
        let mut scene = Scene::random(&c, &mut ChaCha8Rng::seed_from_u64(clip.seed)).unwrap();
        for t in 0..clip.frames as usize {
            let (rgb, ids) = (clip.frame_rgb(t), clip.frame_ids(t));
            for (p, &id) in ids.iter().enumerate() {
                if id > 0 {
                    assert_eq!(rgb[p * 3..p * 3 + 3], scene.objects[id as usize - 1].colour);
                }
            }
            scene.advance();
        }
    }

    #[test]
    fn non_square_frames() {
        let c = SynthConfig { width: 80, height: 48, ..SynthConfig::default() };
        let clip = generate_clip(&c, Split::Test, 2).unwrap();
        assert_eq!((clip.width, clip.height), (80, 48));
        assert_eq!(clip.frame_rgb(15).len(), 80 * 48 * 3);
        assert_eq!(clip.frame_ids(15).len(), 80 * 48);
        assert!(clip.ids.iter().any(|&id| id > 0), "no object drawn");
    }

    #[test]
    fn crossing_only_clips_lose_objects() {
        let c = SynthConfig {
            frames: 120,
            min_objects: 1,
            max_objects: 1,
            motions: vec![MotionKind::Crossing],
            max_speed: 0.1,
            ..SynthConfig::default()
        };
        let clip = generate_clip(&c, Split::Train, 0).unwrap();
        assert!((0..clip.frames as usize).any(|t| clip.frame_ids(t).contains(&1)));
        assert!(!clip.frame_ids(clip.frames as usize - 1).contains(&1));
    }

    #[test]
    fn oversized_clips_and_bad_configs_are_rejected() {
        let c = SynthConfig { width: 4096, height: 4096, frames: 100, ..SynthConfig::default() };
        let msg = generate_clip(&c, Split::Train, 0).unwrap_err().to_string();
        assert!(msg.contains("frames") && msg.contains("limit"), "{msg}");
        let bad = SynthConfig { width: 0, ..SynthConfig::default() };
        assert!(generate_clip(&bad, Split::Train, 0).is_err());
    }
}
