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
