//! Frames as callers hand them over (any size, several pixel layouts) and
//! their one conversion into the model's normalised input.
//!
//! The caller's pixels are read exactly once: resizing, channel reordering,
//! scaling to [0, 1] and mean/std normalisation all happen in the single
//! pass that writes the stream's preallocated input slot.

use crate::error::{Error, Result};
use crate::model::config::{ChannelOrder, PreprocessConfig, ResizeMode};

/// Largest accepted frame side, in pixels.
pub const MAX_FRAME_SIDE: usize = 16384;

/// How a frame's pixels are laid out in memory.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PixelFormat {
    /// 3 bytes per pixel, R G B.
    Rgb8,
    /// 3 bytes per pixel, B G R (OpenCV's default).
    Bgr8,
    /// 4 bytes per pixel, R G B A; alpha is ignored.
    Rgba8,
    /// 4 bytes per pixel, B G R A; alpha is ignored.
    Bgra8,
    /// 1 byte per pixel, replicated to three channels.
    Gray8,
    /// Three planes (R, G, B) of f32 in [0, 1]; `stride` is the byte
    /// distance between rows, and plane p starts at p * stride * height.
    F32Chw,
}

impl PixelFormat {
    /// Bytes one pixel occupies in a row (one plane's for `F32Chw`).
    pub fn bytes_per_pixel(self) -> usize {
        match self {
            PixelFormat::Rgb8 | PixelFormat::Bgr8 => 3,
            PixelFormat::Rgba8 | PixelFormat::Bgra8 | PixelFormat::F32Chw => 4,
            PixelFormat::Gray8 => 1,
        }
    }

    /// Bytes a frame of this format and geometry must provide.
    pub fn required_bytes(self, width: usize, height: usize, stride: usize) -> usize {
        let rows = if self == PixelFormat::F32Chw { 3 * height } else { height };
        (rows - 1) * stride + width * self.bytes_per_pixel()
    }
}

/// One frame, borrowed from the caller for the duration of a call.
#[derive(Clone, Copy, Debug)]
pub struct Frame<'a> {
    pub data: &'a [u8],
    pub width: usize,
    pub height: usize,
    /// Bytes from one row to the next (>= width * bytes per pixel).
    pub stride: usize,
    pub format: PixelFormat,
    /// Capture time in the caller's clock, passed through to the result.
    pub timestamp_ns: i64,
    /// Any value the caller wants back with the result.
    pub tag: u64,
}

impl<'a> Frame<'a> {
    /// A tightly packed frame (stride = width * bytes per pixel).
    pub fn packed(data: &'a [u8], width: usize, height: usize, format: PixelFormat) -> Self {
        Frame { data, width, height, stride: width * format.bytes_per_pixel(), format, timestamp_ns: 0, tag: 0 }
    }

    /// Checks the geometry against the data; errors name the field.
    pub fn validate(&self) -> Result<()> {
        check_geometry(self.width, self.height, self.stride, self.format)?;
        let needed = self.format.required_bytes(self.width, self.height, self.stride);
        if self.data.len() < needed {
            return Err(Error::invalid(format!(
                "frame data holds {} bytes, a {}x{} {:?} frame with stride {} needs {needed}",
                self.data.len(),
                self.width,
                self.height,
                self.format,
                self.stride
            )));
        }
        Ok(())
    }
}

/// Checks sizes before any pointer is turned into a slice.
pub fn check_geometry(width: usize, height: usize, stride: usize, format: PixelFormat) -> Result<()> {
    for (name, side) in [("width", width), ("height", height)] {
        if side == 0 || side > MAX_FRAME_SIDE {
            return Err(Error::invalid(format!("frame {name} is {side}, must be in 1..={MAX_FRAME_SIDE}")));
        }
    }
    let row = width * format.bytes_per_pixel();
    if stride < row {
        return Err(Error::invalid(format!(
            "frame stride is {stride} bytes, smaller than one row ({width} px x {} bytes = {row})",
            format.bytes_per_pixel()
        )));
    }
    if stride > isize::MAX as usize / (3 * height) {
        return Err(Error::invalid(format!("frame stride {stride} is too large")));
    }
    Ok(())
}

/// Converts `frame` into `dst` ([3, H, W] at the model's input size,
/// normalised as the model was trained). A float frame with a NaN, an
/// infinity or a value beyond +-MAX_F32_PIXEL is rejected and `dst` may
/// then hold a partial conversion.
/// Largest magnitude a float pixel may have. Frames hold 0..1 (or 0..255)
/// values; far larger ones overflow the model's float arithmetic and would
/// turn the carried slots into NaN.
pub const MAX_F32_PIXEL: f32 = 1.0e4;

pub fn convert_into(frame: &Frame, pre: &PreprocessConfig, dst: &mut [f32]) -> Result<()> {
    frame.validate()?;
    let (out_h, out_w) = (pre.height as usize, pre.width as usize);
    assert_eq!(dst.len(), 3 * out_h * out_w, "input slot sized for the model");
    let swap = pre.channel_order == ChannelOrder::Bgr;
    // (x - mean) / std with f32 divisions, exactly as the model's own
    // `normalize` computes it, so equal pixels give bit-equal inputs.
    let mean: [f32; 3] = std::array::from_fn(|c| pre.mean[if swap { 2 - c } else { c }] as f32);
    let std: [f32; 3] = std::array::from_fn(|c| pre.std[if swap { 2 - c } else { c }] as f32);
    let sampler = Sampler::new(frame.width, frame.height, out_w, out_h, pre.resize);
    let mut finite = true;
    // Output channel c takes the model's channel c; `swap` reverses RGB.
    let mut write = |oy: usize, ox: usize, rgb: [f32; 3]| {
        for c in 0..3 {
            let v = rgb[if swap { 2 - c } else { c }];
            finite &= v.abs() <= MAX_F32_PIXEL; // false for NaN and infinities too
            dst[(c * out_h + oy) * out_w + ox] = (v - mean[c]) / std[c];
        }
    };
    let data = frame.data;
    let stride = frame.stride;
    let u8_at = |x: usize, y: usize, c: usize| data[y * stride + x * frame.format.bytes_per_pixel() + c] as f32;
    match frame.format {
        PixelFormat::Rgb8 | PixelFormat::Rgba8 => {
            sampler.run(|x, y| [u8_at(x, y, 0) / 255.0, u8_at(x, y, 1) / 255.0, u8_at(x, y, 2) / 255.0], &mut write)
        }
        PixelFormat::Bgr8 | PixelFormat::Bgra8 => {
            sampler.run(|x, y| [u8_at(x, y, 2) / 255.0, u8_at(x, y, 1) / 255.0, u8_at(x, y, 0) / 255.0], &mut write)
        }
        PixelFormat::Gray8 => sampler.run(
            |x, y| {
                let v = u8_at(x, y, 0) / 255.0;
                [v, v, v]
            },
            &mut write,
        ),
        PixelFormat::F32Chw => {
            let plane = stride * frame.height;
            let f32_at = |x: usize, y: usize, c: usize| {
                let at = c * plane + y * stride + 4 * x;
                f32::from_ne_bytes([data[at], data[at + 1], data[at + 2], data[at + 3]])
            };
            sampler.run(|x, y| [f32_at(x, y, 0), f32_at(x, y, 1), f32_at(x, y, 2)], &mut write)
        }
    }
    if !finite {
        return Err(Error::invalid(format!(
            "frame contains NaN, infinite or out-of-range values (float pixels must lie within +-{MAX_F32_PIXEL})"
        )));
    }
    Ok(())
}

/// Maps output pixels to source pixels with PyTorch's conventions
/// (`interpolate(..., align_corners=False)` for bilinear and nearest,
/// `adaptive_avg_pool2d` for area), so the runtime sees what training saw.
struct Sampler {
    in_w: usize,
    in_h: usize,
    out_w: usize,
    out_h: usize,
    mode: ResizeMode,
}

impl Sampler {
    fn new(in_w: usize, in_h: usize, out_w: usize, out_h: usize, mode: ResizeMode) -> Self {
        Sampler { in_w, in_h, out_w, out_h, mode }
    }

    fn run(&self, pixel: impl Fn(usize, usize) -> [f32; 3], write: &mut impl FnMut(usize, usize, [f32; 3])) {
        if self.in_w == self.out_w && self.in_h == self.out_h {
            for y in 0..self.out_h {
                for x in 0..self.out_w {
                    write(y, x, pixel(x, y));
                }
            }
            return;
        }
        match self.mode {
            ResizeMode::Nearest => {
                for oy in 0..self.out_h {
                    let y = (oy * self.in_h / self.out_h).min(self.in_h - 1);
                    for ox in 0..self.out_w {
                        let x = (ox * self.in_w / self.out_w).min(self.in_w - 1);
                        write(oy, ox, pixel(x, y));
                    }
                }
            }
            ResizeMode::Bilinear => {
                for oy in 0..self.out_h {
                    let (y0, y1, fy) = linear_taps(oy, self.in_h, self.out_h);
                    for ox in 0..self.out_w {
                        let (x0, x1, fx) = linear_taps(ox, self.in_w, self.out_w);
                        let (a, b, c, d) = (pixel(x0, y0), pixel(x1, y0), pixel(x0, y1), pixel(x1, y1));
                        let v = std::array::from_fn(|k| {
                            let top = a[k] + (b[k] - a[k]) * fx;
                            let bottom = c[k] + (d[k] - c[k]) * fx;
                            top + (bottom - top) * fy
                        });
                        write(oy, ox, v);
                    }
                }
            }
            ResizeMode::Area => {
                for oy in 0..self.out_h {
                    let (ys, ye) = area_span(oy, self.in_h, self.out_h);
                    for ox in 0..self.out_w {
                        let (xs, xe) = area_span(ox, self.in_w, self.out_w);
                        let mut sum = [0f32; 3];
                        for y in ys..ye {
                            for x in xs..xe {
                                let p = pixel(x, y);
                                for k in 0..3 {
                                    sum[k] += p[k];
                                }
                            }
                        }
                        let n = ((ye - ys) * (xe - xs)) as f32;
                        write(oy, ox, sum.map(|s| s / n));
                    }
                }
            }
        }
    }
}

/// Source taps and weight of output index `o` (align_corners = false).
fn linear_taps(o: usize, n_in: usize, n_out: usize) -> (usize, usize, f32) {
    let scale = n_in as f32 / n_out as f32;
    let src = ((o as f32 + 0.5) * scale - 0.5).max(0.0);
    let i0 = (src as usize).min(n_in - 1);
    let i1 = (i0 + 1).min(n_in - 1);
    (i0, i1, src - i0 as f32)
}

/// Source range [start, end) averaged into output index `o`.
fn area_span(o: usize, n_in: usize, n_out: usize) -> (usize, usize) {
    let start = o * n_in / n_out;
    let end = ((o + 1) * n_in).div_ceil(n_out);
    (start, end.max(start + 1))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ModelConfig;
    use tch::{Kind, Tensor};

    fn preprocess(h: i64, w: i64, resize: ResizeMode) -> PreprocessConfig {
        let mut p = ModelConfig::savi_small_64().preprocess;
        p.height = h;
        p.width = w;
        p.mean = [0.1, 0.2, 0.3];
        p.std = [0.5, 0.25, 0.4];
        p.resize = resize;
        p
    }

    fn ramp_rgb(w: usize, h: usize) -> Vec<u8> {
        (0..w * h * 3).map(|i| ((i * 37) % 251) as u8).collect()
    }

    /// The torch computation the runtime must match.
    fn torch_reference(rgb: &[u8], w: usize, h: usize, pre: &PreprocessConfig) -> Vec<f32> {
        let img =
            Tensor::from_slice(rgb).view([1, h as i64, w as i64, 3]).permute([0, 3, 1, 2]).to_kind(Kind::Float) / 255.0;
        let size = [pre.height, pre.width];
        let resized = if (h as i64, w as i64) == (pre.height, pre.width) {
            img
        } else {
            match pre.resize {
                ResizeMode::Bilinear => img.upsample_bilinear2d(size, false, None, None),
                ResizeMode::Nearest => img.upsample_nearest2d(size, None, None),
                ResizeMode::Area => img.adaptive_avg_pool2d(size),
            }
        };
        let mean = Tensor::from_slice(&pre.mean).to_kind(Kind::Float).view([1, 3, 1, 1]);
        let std = Tensor::from_slice(&pre.std).to_kind(Kind::Float).view([1, 3, 1, 1]);
        Vec::try_from(((resized - mean) / std).flatten(0, -1)).unwrap()
    }

    fn max_diff(a: &[f32], b: &[f32]) -> f32 {
        a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0, f32::max)
    }

    #[test]
    fn matches_torch_resizing_and_normalisation() {
        for (w, h) in [(64, 64), (100, 70), (32, 48), (640, 480)] {
            for mode in [ResizeMode::Bilinear, ResizeMode::Nearest, ResizeMode::Area] {
                let pre = preprocess(64, 64, mode);
                let rgb = ramp_rgb(w, h);
                let mut dst = vec![0f32; 3 * 64 * 64];
                convert_into(&Frame::packed(&rgb, w, h, PixelFormat::Rgb8), &pre, &mut dst).unwrap();
                let diff = max_diff(&dst, &torch_reference(&rgb, w, h, &pre));
                assert!(diff < 1e-4, "{w}x{h} {mode:?}: max diff {diff}");
            }
        }
    }

    #[test]
    fn every_pixel_format_gives_the_same_input() {
        let (w, h) = (20, 12);
        let rgb = ramp_rgb(w, h);
        let pre = preprocess(16, 16, ResizeMode::Bilinear);
        let convert = |data: &[u8], format: PixelFormat, stride: usize| {
            let mut dst = vec![0f32; 3 * 16 * 16];
            let frame = Frame { data, width: w, height: h, stride, format, timestamp_ns: 0, tag: 0 };
            convert_into(&frame, &pre, &mut dst).unwrap();
            dst
        };
        let want = convert(&rgb, PixelFormat::Rgb8, w * 3);
        let px = |i: usize| [rgb[3 * i], rgb[3 * i + 1], rgb[3 * i + 2]];
        // Padded rows: stride larger than a row.
        let stride = w * 4 + 7;
        let mut bgra = vec![0u8; stride * h];
        let mut bgr = Vec::new();
        let mut planes = vec![0u8; 3 * h * (w * 4 + 4)];
        for y in 0..h {
            for x in 0..w {
                let [r, g, b] = px(y * w + x);
                bgra[y * stride + 4 * x..][..4].copy_from_slice(&[b, g, r, 255]);
                bgr.extend_from_slice(&[b, g, r]);
                for (c, v) in [r, g, b].into_iter().enumerate() {
                    let at = c * h * (w * 4 + 4) + y * (w * 4 + 4) + 4 * x;
                    planes[at..at + 4].copy_from_slice(&(v as f32 / 255.0).to_ne_bytes());
                }
            }
        }
        assert!(max_diff(&want, &convert(&bgra, PixelFormat::Bgra8, stride)) < 1e-6);
        assert!(max_diff(&want, &convert(&bgr, PixelFormat::Bgr8, w * 3)) < 1e-6);
        assert!(max_diff(&want, &convert(&planes, PixelFormat::F32Chw, w * 4 + 4)) < 1e-5);
        let gray: Vec<u8> = (0..w * h).map(|i| px(i)[1]).collect();
        let grey_rgb: Vec<u8> = gray.iter().flat_map(|&g| [g, g, g]).collect();
        assert!(max_diff(&convert(&gray, PixelFormat::Gray8, w), &convert(&grey_rgb, PixelFormat::Rgb8, w * 3)) < 1e-6);
    }

    #[test]
    fn bad_geometry_and_values_are_errors() {
        let pre = preprocess(8, 8, ResizeMode::Bilinear);
        let mut dst = vec![0f32; 3 * 64];
        let data = vec![0u8; 100];
        let frame =
            |w, h, stride, format| Frame { data: &data, width: w, height: h, stride, format, timestamp_ns: 0, tag: 0 };
        for (f, what) in [
            (frame(0, 4, 12, PixelFormat::Rgb8), "width"),
            (frame(4, 0, 12, PixelFormat::Rgb8), "height"),
            (frame(4, 4, 11, PixelFormat::Rgb8), "stride"),
            (frame(8, 8, 24, PixelFormat::Rgb8), "bytes"),
            (frame(MAX_FRAME_SIDE + 1, 1, 1 << 20, PixelFormat::Gray8), "width"),
        ] {
            let err = convert_into(&f, &pre, &mut dst).unwrap_err().to_string();
            assert!(err.contains(what), "{err}");
        }
        let mut nan = vec![0u8; 3 * 4 * 4 * 4];
        nan[8..12].copy_from_slice(&f32::NAN.to_ne_bytes());
        let f = Frame::packed(&nan, 4, 4, PixelFormat::F32Chw);
        assert!(convert_into(&f, &pre, &mut dst).unwrap_err().to_string().contains("NaN"));
    }
}
