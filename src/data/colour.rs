//! Colour helpers shared by scene sampling, backgrounds and the id palette.

/// HSV to 8-bit RGB. `hue_deg` wraps around 360; `s` and `v` are in [0, 1].
pub(crate) fn hsv_to_rgb(hue_deg: f32, s: f32, v: f32) -> [u8; 3] {
    let [r, g, b] = hsv_to_unit_rgb(hue_deg, s, v);
    [to_u8(r), to_u8(g), to_u8(b)]
}

/// HSV to RGB with channels in [0, 1] (for blending before quantising).
pub(crate) fn hsv_to_unit_rgb(hue_deg: f32, s: f32, v: f32) -> [f32; 3] {
    let (s, v) = (s.clamp(0.0, 1.0), v.clamp(0.0, 1.0));
    let h = hue_deg.rem_euclid(360.0) / 60.0;
    let c = v * s;
    let x = c * (1.0 - ((h % 2.0) - 1.0).abs());
    let (r, g, b) = match h as u32 {
        0 => (c, x, 0.0),
        1 => (x, c, 0.0),
        2 => (0.0, c, x),
        3 => (0.0, x, c),
        4 => (x, 0.0, c),
        _ => (c, 0.0, x),
    };
    let m = v - c;
    [r + m, g + m, b + m]
}

/// Quantises a [0, 1] channel to a byte.
pub(crate) fn to_u8(x: f32) -> u8 {
    (x.clamp(0.0, 1.0) * 255.0).round() as u8
}

/// Distance between two hues on the colour wheel, in degrees (0..=180).
pub(crate) fn hue_distance(a: f32, b: f32) -> f32 {
    let d = (a - b).rem_euclid(360.0);
    d.min(360.0 - d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn primaries_and_grey() {
        assert_eq!(hsv_to_rgb(0.0, 1.0, 1.0), [255, 0, 0]);
        assert_eq!(hsv_to_rgb(120.0, 1.0, 1.0), [0, 255, 0]);
        assert_eq!(hsv_to_rgb(240.0, 1.0, 1.0), [0, 0, 255]);
        assert_eq!(hsv_to_rgb(360.0, 1.0, 1.0), [255, 0, 0]);
        assert_eq!(hsv_to_rgb(77.0, 0.0, 0.5), [128, 128, 128]);
    }

    #[test]
    fn hue_distance_wraps() {
        assert_eq!(hue_distance(350.0, 10.0), 20.0);
        assert_eq!(hue_distance(0.0, 180.0), 180.0);
    }
}
