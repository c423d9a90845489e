//! Writing clips to disk for inspection and for other tools: per-frame PNGs
//! (image, colour-coded mask, raw ids) and an animated preview GIF.

use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};

use image::codecs::gif::{GifEncoder, Repeat};
use image::{Delay, Frame, GrayImage, ImageError, RgbImage, RgbaImage};

use super::clip::Clip;
use super::colour::hsv_to_rgb;
use crate::error::{Error, Result};

/// Preview speed, about 8 frames per second. GIF delays are whole
/// centiseconds, so 120 ms rather than 125 ms, which would be truncated.
const GIF_FRAME_MS: u32 = 120;
/// NeuQuant speed for GIF palettes (1 best .. 30 fastest); previews only.
const GIF_QUANT_SPEED: i32 = 10;

/// Display colour of an object id in colour-coded masks: black for the
/// background (0), white for the reserved 255, and bright colours with
/// golden-ratio-spaced hues otherwise, so neighbouring ids differ clearly.
pub fn id_palette(id: u8) -> [u8; 3] {
    match id {
        0 => [0, 0, 0],
        255 => [255, 255, 255],
        _ => {
            let k = f32::from(id - 1);
            let hue = (k * 0.618_034 * 360.0).rem_euclid(360.0);
            // Cycle saturation and value too, so ids with close hues differ.
            let sat = [0.9, 0.6, 0.75][usize::from(id) % 3];
            let val = [1.0, 0.85][usize::from(id / 3) % 2];
            hsv_to_rgb(hue, sat, val)
        }
    }
}

/// Writes `frame_NNN.png` (RGB), `mask_NNN.png` (ids via `id_palette`),
/// `ids_NNN.png` (8-bit grey, raw ids) for every frame, and `clip.gif`
/// (frame and mask side by side, about 8 fps, looping) and `sheet.png` (all
/// frames over their masks, enlarged), creating `dir` if needed.
/// Frame numbers have at least three digits, more for long clips, so names
/// sort in frame order. Returns the paths written, sheet and GIF last.
pub fn write_clip_pngs(clip: &Clip, dir: &Path) -> Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let (w, h) = (clip.width, clip.height);
    let digits = clip.frames.saturating_sub(1).to_string().len().max(3);
    let mut written = Vec::with_capacity(clip.frames as usize * 3 + 1);
    let mut gif_frames = Vec::with_capacity(clip.frames as usize);
    for t in 0..clip.frames as usize {
        let rgb = clip.frame_rgb(t);
        let ids = clip.frame_ids(t);
        let mask = palette_image(ids);

        let path = dir.join(format!("frame_{t:0digits$}.png"));
        save(RgbImage::from_raw(w, h, rgb.to_vec()), &path)?;
        written.push(path);
        let path = dir.join(format!("mask_{t:0digits$}.png"));
        save(RgbImage::from_raw(w, h, mask.clone()), &path)?;
        written.push(path);
        let path = dir.join(format!("ids_{t:0digits$}.png"));
        save(GrayImage::from_raw(w, h, ids.to_vec()), &path)?;
        written.push(path);

        gif_frames.push(side_by_side(w, h, &[rgb, &mask]));
    }
    let path = dir.join("sheet.png");
    save(Some(contact_sheet(clip)), &path)?;
    written.push(path);
    let path = dir.join("clip.gif");
    write_gif(gif_frames, &path)?;
    written.push(path);
    Ok(written)
}

/// Frames of at most this many pixels on a side are enlarged in the sheet.
const SHEET_MIN_CELL: u32 = 96;
/// At most this many frames go into the sheet (evenly spaced).
const SHEET_MAX_FRAMES: usize = 16;

/// The frames a contact sheet shows: all, or evenly spaced ones.
pub(crate) fn sheet_frames(frames: usize) -> Vec<usize> {
    if frames <= SHEET_MAX_FRAMES {
        (0..frames).collect()
    } else {
        (0..SHEET_MAX_FRAMES).map(|i| i * (frames - 1) / (SHEET_MAX_FRAMES - 1)).collect()
    }
}

/// A grid of `w x h` RGB images (`rows[r][c]`), enlarged (nearest
/// neighbour) so that small frames stay visible, with 2-pixel gaps.
pub(crate) fn image_grid(w: u32, h: u32, rows: &[Vec<Vec<u8>>]) -> RgbImage {
    let scale = SHEET_MIN_CELL.div_ceil(w.min(h)).max(1);
    let gap = 2;
    let (cw, ch) = (w * scale, h * scale);
    let cols = rows.iter().map(Vec::len).max().unwrap_or(0) as u32;
    let mut sheet =
        RgbImage::new((cols * (cw + gap)).saturating_sub(gap), (rows.len() as u32 * (ch + gap)).saturating_sub(gap));
    for (r, row) in rows.iter().enumerate() {
        for (c, img) in row.iter().enumerate() {
            let (x0, y0) = (c as u32 * (cw + gap), r as u32 * (ch + gap));
            for y in 0..ch {
                for x in 0..cw {
                    let i = 3 * ((y / scale) * w + x / scale) as usize;
                    sheet.put_pixel(x0 + x, y0 + y, image::Rgb([img[i], img[i + 1], img[i + 2]]));
                }
            }
        }
    }
    sheet
}

/// Colour-codes an id map with `id_palette`.
pub(crate) fn palette_image(ids: &[u8]) -> Vec<u8> {
    ids.iter().flat_map(|&id| id_palette(id)).collect()
}

/// All frames in one picture: frames on the top row, their colour masks below.
fn contact_sheet(clip: &Clip) -> RgbImage {
    let shown = sheet_frames(clip.frames as usize);
    let frames = shown.iter().map(|&t| clip.frame_rgb(t).to_vec()).collect();
    let masks = shown.iter().map(|&t| palette_image(clip.frame_ids(t))).collect();
    image_grid(clip.width, clip.height, &[frames, masks])
}

/// One RGBA image of RGB panels side by side.
pub(crate) fn side_by_side(w: u32, h: u32, panels: &[&[u8]]) -> RgbaImage {
    let row = w as usize * 3;
    let mut out = Vec::with_capacity(w as usize * h as usize * 4 * panels.len());
    for y in 0..h as usize {
        for panel in panels {
            for px in panel[y * row..(y + 1) * row].chunks_exact(3) {
                out.extend_from_slice(&[px[0], px[1], px[2], 255]);
            }
        }
    }
    RgbaImage::from_raw(panels.len() as u32 * w, h, out).expect("buffer sized for the panels")
}

pub(crate) fn write_gif(frames: Vec<RgbaImage>, path: &Path) -> Result<()> {
    let file = File::create(path).map_err(|e| Error::io(path, e))?;
    let mut encoder = GifEncoder::new_with_speed(BufWriter::new(file), GIF_QUANT_SPEED);
    encoder.set_repeat(Repeat::Infinite).map_err(|e| image_error(path, e))?;
    let delay = Delay::from_numer_denom_ms(GIF_FRAME_MS, 1);
    encoder
        .encode_frames(frames.into_iter().map(|img| Frame::from_parts(img, 0, 0, delay)))
        .map_err(|e| image_error(path, e))
}

pub(crate) fn save<P>(img: Option<image::ImageBuffer<P, Vec<u8>>>, path: &Path) -> Result<()>
where
    P: image::Pixel<Subpixel = u8> + image::PixelWithColorType,
{
    // `from_raw` only fails on a length mismatch, i.e. a malformed Clip.
    let img = img.ok_or_else(|| Error::invalid("clip buffers do not match its width, height and frames"))?;
    img.save_with_format(path, image::ImageFormat::Png).map_err(|e| image_error(path, e))
}

fn image_error(path: &Path, e: ImageError) -> Error {
    match e {
        ImageError::IoError(io) => Error::io(path, io),
        other => Error::io(path, std::io::Error::other(other.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::{generate_clip, Split, SynthConfig};
    use image::AnimationDecoder;
    use std::collections::HashSet;
    use std::io::BufReader;

    fn temp_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("slotrt-export-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    #[test]
    fn palette_is_distinct_and_bright() {
        assert_eq!(id_palette(0), [0, 0, 0]);
        let colours: HashSet<[u8; 3]> = (1..=254u8).map(id_palette).collect();
        assert_eq!(colours.len(), 254);
        assert!(!colours.contains(&[0, 0, 0]));
        for id in 1..=254u8 {
            assert!(id_palette(id).iter().max().unwrap() >= &200, "id {id} is dark");
        }
    }

    #[test]
    fn pngs_and_gif_round_trip() {
        let config = SynthConfig { width: 40, height: 24, frames: 5, ..SynthConfig::default() };
        let clip = generate_clip(&config, Split::Test, 11).unwrap();
        let dir = temp_dir("roundtrip").join("nested");
        let paths = write_clip_pngs(&clip, &dir).unwrap();
        assert_eq!(paths.len(), 5 * 3 + 2);
        // Sheet: 5 enlarged frames (scale 4 for a 24-pixel side) over their masks.
        let sheet = image::open(dir.join("sheet.png")).unwrap().to_rgb8();
        assert_eq!(sheet.dimensions(), (5 * 160 + 4 * 2, 2 * 96 + 2));
        assert_eq!(sheet.get_pixel(0, 96 + 2).0, id_palette(clip.frame_ids(0)[0]));
        for t in 0..clip.frames as usize {
            let ids = image::open(dir.join(format!("ids_{t:03}.png"))).unwrap();
            assert_eq!(ids.color(), image::ColorType::L8);
            assert_eq!(ids.to_luma8().as_raw(), clip.frame_ids(t));
            let rgb = image::open(dir.join(format!("frame_{t:03}.png"))).unwrap().to_rgb8();
            assert_eq!(rgb.as_raw(), clip.frame_rgb(t));
            let mask = image::open(dir.join(format!("mask_{t:03}.png"))).unwrap().to_rgb8();
            for (p, &id) in clip.frame_ids(t).iter().enumerate() {
                assert_eq!(mask.as_raw()[p * 3..p * 3 + 3], id_palette(id));
            }
        }
        let file = BufReader::new(File::open(dir.join("clip.gif")).unwrap());
        let decoder = image::codecs::gif::GifDecoder::new(file).unwrap();
        let frames = decoder.into_frames().collect_frames().unwrap();
        assert_eq!(frames.len(), 5);
        assert_eq!(frames[0].buffer().dimensions(), (80, 24));
        assert_eq!(frames[0].delay().numer_denom_ms(), (GIF_FRAME_MS, 1));
        std::fs::remove_dir_all(dir.parent().unwrap()).unwrap();
    }

    #[test]
    fn long_clips_get_wider_frame_numbers() {
        let config =
            SynthConfig { width: 8, height: 8, frames: 1001, min_objects: 0, max_objects: 1, ..SynthConfig::default() };
        let clip = generate_clip(&config, Split::Train, 0).unwrap();
        let dir = temp_dir("long");
        let paths = write_clip_pngs(&clip, &dir).unwrap();
        assert!(paths[0].ends_with("frame_0000.png"), "{:?}", paths[0]);
        assert!(dir.join("ids_1000.png").exists());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn unwritable_dir_is_an_io_error() {
        let clip = generate_clip(&SynthConfig { frames: 1, ..Default::default() }, Split::Train, 0).unwrap();
        let file = temp_dir("notadir");
        std::fs::write(&file, b"x").unwrap();
        let err = write_clip_pngs(&clip, &file.join("sub")).unwrap_err();
        assert!(matches!(err, Error::Io { .. }), "{err:?}");
        std::fs::remove_file(&file).unwrap();
    }
}
