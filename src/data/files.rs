//! Clip files: recordings users hand in, and what `slotrt.mujoco_scenes` and
//! `python -m slotrt.synth` write (the Python side is `slotrt.clips`).
//!
//! A clip is either
//! * a `.npz` archive with `frames` [T, H, W, 3] uint8 RGB and, optionally,
//!   `ids` [T, H, W] integer instance ids in 0..=255 (0 = background, the
//!   same id for the same object in every frame), or
//! * a folder of `frame_NNN.png` and optionally `ids_NNN.png` (8-bit grey),
//!   as `slotrt synth` writes them.
//!
//! Every problem is an error naming the file and the field.

use std::io::Read;
use std::path::{Path, PathBuf};

use super::clip::{Clip, MAX_CLIP_BYTES};
use crate::error::{Error, Result};

fn bad(path: &Path, msg: impl std::fmt::Display) -> Error {
    Error::invalid(format!("{}: {msg}", path.display()))
}

/// The clips under `path`: the file or folder itself when it is one clip,
/// else every `.npz` file and PNG clip folder inside it, sorted by name.
pub fn list_clip_files(path: &Path) -> Result<Vec<PathBuf>> {
    if !path.exists() {
        return Err(bad(path, "no such clip file or folder"));
    }
    if path.is_file() || is_png_clip(path) {
        return Ok(vec![path.to_path_buf()]);
    }
    let mut found = Vec::new();
    for entry in std::fs::read_dir(path).map_err(|e| Error::io(path, e))? {
        let p = entry.map_err(|e| Error::io(path, e))?.path();
        if p.extension().is_some_and(|e| e == "npz") || (p.is_dir() && is_png_clip(&p)) {
            found.push(p);
        }
    }
    found.sort();
    if found.is_empty() {
        return Err(bad(path, "no clips (.npz files or frame_NNN.png folders) inside"));
    }
    Ok(found)
}

fn is_png_clip(dir: &Path) -> bool {
    dir.join("frame_000.png").exists() || dir.join("frame_0000.png").exists()
}

/// Reads one clip. Without `ids` in the file, `need_ids` makes it an error;
/// otherwise the clip's ids are all background.
pub fn load_clip_file(path: &Path, need_ids: bool) -> Result<Clip> {
    let (frames, ids) = if path.is_dir() { read_png_folder(path)? } else { read_npz(path)? };
    if frames.shape.len() != 4 || frames.shape[3] != 3 {
        return Err(bad(path, format!("field 'frames' must be [T, H, W, 3], got shape {:?}", frames.shape)));
    }
    let (t, h, w) = (frames.shape[0], frames.shape[1], frames.shape[2]);
    if t == 0 || h == 0 || w == 0 {
        return Err(bad(path, format!("field 'frames' is empty (shape {:?})", frames.shape)));
    }
    if (t * h * w * 4) as u64 > MAX_CLIP_BYTES {
        return Err(bad(path, format!("clip of shape {:?} is larger than {MAX_CLIP_BYTES} bytes", frames.shape)));
    }
    let ids = match ids {
        Some(ids) if ids.shape != [t, h, w] => {
            return Err(bad(
                path,
                format!("field 'ids' has shape {:?} but 'frames' needs [{t}, {h}, {w}] (T, H, W)", ids.shape),
            ))
        }
        Some(ids) => ids.data,
        None if need_ids => {
            return Err(bad(path, "field 'ids' missing: scoring and guided training need instance ids"))
        }
        None => vec![0; t * h * w],
    };
    let num_objects = ids.iter().collect::<std::collections::BTreeSet<_>>().iter().filter(|&&&i| i > 0).count();
    Ok(Clip {
        width: w as u32,
        height: h as u32,
        frames: t as u32,
        rgb: frames.data,
        ids,
        num_objects: num_objects as u32,
        seed: 0,
    })
}

/// An array of bytes with its shape.
#[derive(Debug)]
struct Array {
    shape: Vec<usize>,
    data: Vec<u8>,
}

fn read_npz(path: &Path) -> Result<(Array, Option<Array>)> {
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let mut zip = zip::ZipArchive::new(file).map_err(|e| bad(path, format!("not a readable .npz archive ({e})")))?;
    let mut field = |name: &str| -> Result<Option<Array>> {
        let mut entry = match zip.by_name(&format!("{name}.npy")) {
            Ok(e) => e,
            Err(zip::result::ZipError::FileNotFound) => return Ok(None),
            Err(e) => return Err(bad(path, format!("field '{name}': {e}"))),
        };
        if entry.size() > 2 * MAX_CLIP_BYTES {
            return Err(bad(path, format!("field '{name}' is {} bytes, too large", entry.size())));
        }
        let mut bytes = Vec::with_capacity(entry.size() as usize);
        entry.read_to_end(&mut bytes).map_err(|e| bad(path, format!("field '{name}': {e}")))?;
        parse_npy(&bytes).map(Some).map_err(|e| bad(path, format!("field '{name}': {e}")))
    };
    let frames = field("frames")?.ok_or_else(|| bad(path, "field 'frames' missing"))?;
    let ids = field("ids")?;
    Ok((frames, ids))
}

/// An .npy array of unsigned or signed integers, as bytes 0..=255 (values
/// outside that range are an error): C order only.
fn parse_npy(bytes: &[u8]) -> std::result::Result<Array, String> {
    if bytes.len() < 10 || &bytes[..6] != b"\x93NUMPY" {
        return Err("not an .npy array".into());
    }
    let (header_len, start) = match bytes[6] {
        1 => (u16::from_le_bytes([bytes[8], bytes[9]]) as usize, 10),
        2 | 3 if bytes.len() >= 12 => (u32::from_le_bytes(bytes[8..12].try_into().expect("4")) as usize, 12),
        v => return Err(format!("unsupported .npy version {v}")),
    };
    let header = bytes.get(start..start + header_len).ok_or("truncated .npy header")?;
    let header = std::str::from_utf8(header).map_err(|_| "the .npy header is not text")?;
    let value = |key: &str| -> std::result::Result<&str, String> {
        let at = header.find(&format!("'{key}':")).ok_or(format!("the .npy header has no '{key}'"))?;
        Ok(header[at + key.len() + 3..].trim_start())
    };
    if value("fortran_order")?.starts_with("True") {
        return Err("Fortran-ordered arrays are not supported (save a C-ordered array)".into());
    }
    let descr = value("descr")?;
    let descr = descr.get(1..descr[1..].find('\'').ok_or("bad descr")? + 1).ok_or("bad descr")?;
    let shape_text = value("shape")?;
    let close = shape_text.find(')').ok_or("bad shape")?;
    let shape: Vec<usize> = shape_text[1..close]
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| s.parse::<usize>().map_err(|_| format!("bad shape entry '{s}'")))
        .collect::<std::result::Result<_, _>>()?;
    let count = shape.iter().try_fold(1usize, |a, &d| a.checked_mul(d)).ok_or("shape overflows")?;
    let body = &bytes[start + header_len..];
    let (size, signed, little) = match descr {
        "|u1" | "<u1" | "u1" => (1, false, true),
        "|i1" | "<i1" | "i1" => (1, true, true),
        d if d.len() == 3 && matches!(&d[1..2], "u" | "i") && matches!(&d[2..], "2" | "4" | "8") => {
            (d[2..].parse::<usize>().expect("digit"), &d[1..2] == "i", !d.starts_with('>'))
        }
        other => return Err(format!("dtype '{other}' is not an integer type (uint8 expected)")),
    };
    if body.len() < count * size {
        return Err(format!("holds {} bytes, shape {shape:?} needs {}", body.len(), count * size));
    }
    let mut data = Vec::with_capacity(count);
    for chunk in body[..count * size].chunks_exact(size) {
        let mut raw = [0u8; 8];
        if little {
            raw[..size].copy_from_slice(chunk);
        } else {
            chunk.iter().rev().enumerate().for_each(|(i, b)| raw[i] = *b);
        }
        let unsigned = u64::from_le_bytes(raw);
        let value: i128 = if signed && size < 8 && unsigned >> (8 * size - 1) & 1 == 1 {
            unsigned as i128 - (1i128 << (8 * size))
        } else if signed && size == 8 {
            unsigned as i64 as i128
        } else {
            unsigned as i128
        };
        if !(0..=255).contains(&value) {
            return Err(format!("value {value} is outside 0..=255"));
        }
        data.push(value as u8);
    }
    Ok(Array { shape, data })
}

fn read_png_folder(dir: &Path) -> Result<(Array, Option<Array>)> {
    let digits = if dir.join("frame_000.png").exists() { 3 } else { 4 };
    let name = |kind: &str, t: usize| dir.join(format!("{kind}_{t:0digits$}.png"));
    let (mut rgb, mut ids, mut t) = (Vec::new(), Vec::new(), 0);
    let mut size = None;
    let mut has_ids = None;
    while name("frame", t).exists() {
        let path = name("frame", t);
        let img = image::open(&path).map_err(|e| bad(&path, format!("field 'frames': {e}")))?.to_rgb8();
        let dims = img.dimensions();
        if *size.get_or_insert(dims) != dims {
            return Err(bad(&path, format!("field 'frames': frame is {dims:?}, earlier frames {:?}", size.unwrap())));
        }
        rgb.extend_from_slice(img.as_raw());
        let ids_path = name("ids", t);
        let here = ids_path.exists();
        if *has_ids.get_or_insert(here) != here {
            return Err(bad(dir, format!("field 'ids': ids_NNN.png exists for some frames only (frame {t})")));
        }
        if here {
            let grey = image::open(&ids_path).map_err(|e| bad(&ids_path, format!("field 'ids': {e}")))?.to_luma8();
            if grey.dimensions() != dims {
                return Err(bad(&ids_path, format!("field 'ids' is {:?}, the frame {dims:?}", grey.dimensions())));
            }
            ids.extend_from_slice(grey.as_raw());
        }
        t += 1;
    }
    let (w, h) = size.ok_or_else(|| bad(dir, "field 'frames' missing: no frame_NNN.png"))?;
    let shape = vec![t, h as usize, w as usize];
    let frames = Array { shape: vec![t, h as usize, w as usize, 3], data: rgb };
    Ok((frames, (has_ids == Some(true)).then_some(Array { shape, data: ids })))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn npy(descr: &str, shape: &str, body: &[u8]) -> Vec<u8> {
        let header = format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}");
        let mut out = b"\x93NUMPY\x01\x00".to_vec();
        out.extend((header.len() as u16).to_le_bytes());
        out.extend(header.as_bytes());
        out.extend(body);
        out
    }

    #[test]
    fn npy_integers_of_any_width_become_bytes_and_out_of_range_values_are_named() {
        let a = parse_npy(&npy("|u1", "(2, 3)", &[1, 2, 3, 4, 5, 6])).unwrap();
        assert_eq!((a.shape, a.data), (vec![2, 3], vec![1, 2, 3, 4, 5, 6]));
        let wide: Vec<u8> = [7i64, 255].iter().flat_map(|v| v.to_le_bytes()).collect();
        assert_eq!(parse_npy(&npy("<i8", "(2,)", &wide)).unwrap().data, vec![7, 255]);
        let big: Vec<u8> = [3u16, 300].iter().flat_map(|v| v.to_le_bytes()).collect();
        assert!(parse_npy(&npy("<u2", "(2,)", &big)).unwrap_err().contains("value 300 is outside 0..=255"));
        let neg: Vec<u8> = [-1i32].iter().flat_map(|v| v.to_le_bytes()).collect();
        assert!(parse_npy(&npy("<i4", "(1,)", &neg)).unwrap_err().contains("value -1"));
        assert!(parse_npy(&npy("<f4", "(1,)", &[0; 4])).unwrap_err().contains("not an integer type"));
        assert!(parse_npy(&npy("|u1", "(4,)", &[0; 2])).unwrap_err().contains("needs 4"));
        assert!(parse_npy(b"hello").is_err());
    }
}
