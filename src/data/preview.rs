//! Pictures of a model's segmentation next to the ground truth: a contact
//! sheet and an animated GIF a person can open.

use std::path::{Path, PathBuf};

use super::clip::Clip;
use super::export::{id_palette, image_grid, palette_image, save, sheet_frames, side_by_side, write_gif};
use crate::error::{Error, Result};

/// Blends a frame with the palette colour of each pixel's label and marks
/// label boundaries in white, so a person sees both image and segments.
pub fn overlay(rgb: &[u8], labels: &[u8], width: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(rgb.len());
    for (i, px) in rgb.chunks_exact(3).enumerate() {
        let x = i % width;
        let right = x + 1 < width && labels[i + 1] != labels[i];
        let down = i + width < labels.len() && labels[i + width] != labels[i];
        if right || down {
            out.extend_from_slice(&[255, 255, 255]);
        } else {
            let c = id_palette(labels[i]);
            out.extend((0..3).map(|k| ((px[k] as u16 + c[k] as u16) / 2) as u8));
        }
    }
    out
}

/// Writes `prediction_sheet.png` (rows: frames, true masks, predicted
/// masks, overlays) and `prediction.gif` (frame | truth | overlay per
/// frame) for one clip. `pred` holds `frames * height * width` labels, e.g.
/// the argmax slot index + 1 (0 shows as black). Returns the paths.
pub fn write_prediction_preview(clip: &Clip, pred: &[u8], dir: &Path) -> Result<Vec<PathBuf>> {
    let n = clip.frame_pixels();
    if pred.len() != n * clip.frames as usize {
        return Err(Error::invalid(format!("pred has {} labels, the clip {}", pred.len(), n * clip.frames as usize)));
    }
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let (w, h) = (clip.width, clip.height);
    let frame_pred = |t: usize| &pred[t * n..(t + 1) * n];
    let shown = sheet_frames(clip.frames as usize);
    let rows: Vec<Vec<Vec<u8>>> = vec![
        shown.iter().map(|&t| clip.frame_rgb(t).to_vec()).collect(),
        shown.iter().map(|&t| palette_image(clip.frame_ids(t))).collect(),
        shown.iter().map(|&t| palette_image(frame_pred(t))).collect(),
        shown.iter().map(|&t| overlay(clip.frame_rgb(t), frame_pred(t), w as usize)).collect(),
    ];
    let sheet_path = dir.join("prediction_sheet.png");
    save::<image::Rgb<u8>>(Some(image_grid(w, h, &rows)), &sheet_path)?;
    let gif_frames = (0..clip.frames as usize)
        .map(|t| {
            let truth = palette_image(clip.frame_ids(t));
            let over = overlay(clip.frame_rgb(t), frame_pred(t), w as usize);
            side_by_side(w, h, &[clip.frame_rgb(t), &truth, &over])
        })
        .collect();
    let gif_path = dir.join("prediction.gif");
    write_gif(gif_frames, &gif_path)?;
    Ok(vec![sheet_path, gif_path])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::{generate_clip, Split, SynthConfig};

    #[test]
    fn overlay_marks_boundaries_and_blends() {
        let rgb = vec![100u8; 4 * 3];
        let labels = [1u8, 1, 2, 2]; // one row of 4
        let out = overlay(&rgb, &labels, 4);
        assert_eq!(&out[3..6], &[255, 255, 255]); // boundary between 1 and 2
        let c = id_palette(1);
        assert_eq!(out[0], ((100 + c[0] as u16) / 2) as u8);
    }

    #[test]
    fn preview_files_are_written() {
        let config = SynthConfig { width: 24, height: 16, frames: 3, ..SynthConfig::default() };
        let clip = generate_clip(&config, Split::Test, 2).unwrap();
        let dir = std::env::temp_dir().join(format!("slotrt-preview-{}", std::process::id()));
        let paths = write_prediction_preview(&clip, &clip.ids, &dir).unwrap();
        let sheet = image::open(&paths[0]).unwrap();
        assert_eq!(sheet.height(), 4 * 16 * 6 + 3 * 2); // 4 rows, scale 6 for a 16-pixel side
        assert!(paths[1].exists());
        assert!(write_prediction_preview(&clip, &clip.ids[1..], &dir).is_err());
        std::fs::remove_dir_all(dir).unwrap();
    }
}

/// An animated GIF of frames next to their slot overlays, built frame by
/// frame (for streams, where no whole clip exists up front).
#[derive(Debug)]
pub struct OverlayAnimation {
    width: u32,
    height: u32,
    frames: Vec<image::RgbaImage>,
}

/// Most frames one animation holds (a GIF of a few minutes at most).
pub const MAX_ANIMATION_FRAMES: usize = 10_000;

impl OverlayAnimation {
    pub fn new(width: u32, height: u32) -> Result<Self> {
        if width == 0 || height == 0 || width > 4096 || height > 4096 {
            return Err(Error::invalid(format!("animation size {width}x{height} must be in 1..=4096 each")));
        }
        Ok(OverlayAnimation { width, height, frames: Vec::new() })
    }

    pub fn len(&self) -> usize {
        self.frames.len()
    }

    pub fn is_empty(&self) -> bool {
        self.frames.is_empty()
    }

    /// Adds one frame (packed RGB8) and its label map (slot index per
    /// pixel, as the runtime returns it), shown side by side.
    pub fn add(&mut self, rgb: &[u8], labels: &[u8]) -> Result<()> {
        let n = self.width as usize * self.height as usize;
        if rgb.len() != 3 * n || labels.len() != n {
            return Err(Error::invalid(format!(
                "a {}x{} frame needs {} RGB bytes and {n} labels, got {} and {}",
                self.width,
                self.height,
                3 * n,
                rgb.len(),
                labels.len()
            )));
        }
        if self.frames.len() >= MAX_ANIMATION_FRAMES {
            return Err(Error::invalid(format!("an animation holds at most {MAX_ANIMATION_FRAMES} frames")));
        }
        // Slot 0 would be id 0, drawn black: shift so every slot has a colour.
        let shown: Vec<u8> = labels.iter().map(|&l| l.saturating_add(1)).collect();
        let over = overlay(rgb, &shown, self.width as usize);
        self.frames.push(side_by_side(self.width, self.height, &[rgb, &over]));
        Ok(())
    }

    /// Writes the GIF (looping), and returns the number of frames.
    pub fn save(&self, path: &Path) -> Result<usize> {
        if self.frames.is_empty() {
            return Err(Error::invalid("the animation has no frames"));
        }
        write_gif(self.frames.clone(), path)?;
        Ok(self.frames.len())
    }
}
