//! Generator configuration and its validation.

use serde::{Deserialize, Serialize};

use super::kinds::{valid_names, BackgroundKind, MotionKind, ShapeKind};
use crate::error::{Error, Result};

/// Smallest accepted frame side in pixels; below this shapes degenerate.
pub const MIN_SIDE: u32 = 8;
/// Largest accepted frame side in pixels.
pub const MAX_SIDE: u32 = 4096;
/// Largest accepted clip length in frames.
pub const MAX_FRAMES: u32 = 100_000;
/// Largest object id: ids are `u8`, 0 is the background and 255 is reserved.
pub const MAX_OBJECT_ID: u32 = 254;
/// Fraction of the frame that the objects' combined disc area may cover
/// before a config counts as "more objects than fit".
pub const MAX_COVERAGE: f64 = 0.6;

/// What the synthetic video generator draws. Sizes of objects and speeds are
/// fractions of `min(width, height)` so one config works at any resolution.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct SynthConfig {
    /// Frame width in pixels.
    pub width: u32,
    /// Frame height in pixels.
    pub height: u32,
    /// Frames per clip.
    pub frames: u32,
    /// Fewest objects in a clip (may be 0).
    pub min_objects: u32,
    /// Most objects in a clip (at least 1); the count is uniform in between.
    pub max_objects: u32,
    /// Shapes to draw from, uniformly (repeat an entry to weight it).
    pub shapes: Vec<ShapeKind>,
    /// Background styles to draw from, uniformly.
    pub backgrounds: Vec<BackgroundKind>,
    /// Motion models to draw from, uniformly, per object.
    pub motions: Vec<MotionKind>,
    /// Smallest object radius, as a fraction of `min(width, height)`.
    pub min_radius: f32,
    /// Largest object radius, as a fraction of `min(width, height)`.
    pub max_radius: f32,
    /// Largest speed, as a fraction of `min(width, height)` per frame.
    pub max_speed: f32,
    /// Range of object hues in degrees, `0 <= start <= end <= 360`.
    pub hue_range: (f32, f32),
}

impl Default for SynthConfig {
    /// 64x64, 16 frames, 2..=5 objects of the four "seen" shapes, every
    /// background and motion kind.
    fn default() -> Self {
        SynthConfig {
            width: 64,
            height: 64,
            frames: 16,
            min_objects: 2,
            max_objects: 5,
            shapes: vec![ShapeKind::Disc, ShapeKind::Square, ShapeKind::Triangle, ShapeKind::Ellipse],
            backgrounds: BackgroundKind::ALL.to_vec(),
            motions: MotionKind::ALL.to_vec(),
            min_radius: 0.09,
            max_radius: 0.17,
            max_speed: 0.04,
            hue_range: (0.0, 360.0),
        }
    }
}

impl SynthConfig {
    /// A domain the shipped models never saw, for adaptation experiments:
    /// the unseen shapes (star, cross), textured backgrounds only, smaller
    /// and faster objects.
    pub fn shifted_domain() -> Self {
        SynthConfig {
            shapes: vec![ShapeKind::Star, ShapeKind::Cross],
            backgrounds: vec![BackgroundKind::Textured],
            min_radius: 0.08,
            max_radius: 0.15,
            max_speed: 0.06,
            ..SynthConfig::default()
        }
    }

    /// `min(width, height)` in pixels: the unit of radii and speeds.
    pub fn side(&self) -> f32 {
        self.width.min(self.height) as f32
    }

    /// How many objects of the minimum radius fit when their total disc area
    /// (pi r^2 each) may cover at most 60% of the frame, capped at 254 (the
    /// largest object id). Only meaningful for valid sizes and radii.
    pub fn max_objects_that_fit(&self) -> u32 {
        let r = f64::from(self.min_radius) * f64::from(self.width.min(self.height));
        let frame_area = f64::from(self.width) * f64::from(self.height);
        let fit = (MAX_COVERAGE * frame_area / (std::f64::consts::PI * r * r)).floor();
        if fit.is_nan() {
            return 0;
        }
        // Saturating cast: a zero radius gives infinity, capped below.
        (fit.min(f64::from(MAX_OBJECT_ID)) as u32).min(MAX_OBJECT_ID)
    }

    /// Reads a config written as JSON (every field named) and validates it;
    /// errors name the file and the offending field.
    pub fn from_json_file(path: &std::path::Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        let config: SynthConfig =
            serde_json::from_str(&text).map_err(|e| Error::invalid(format!("{}: {e}", path.display())))?;
        config.validate().map_err(|e| Error::invalid(format!("{}: {e}", path.display())))?;
        Ok(config)
    }

    /// Checks every field; the error message names the offending field.
    pub fn validate(&self) -> Result<()> {
        check_side("width", self.width)?;
        check_side("height", self.height)?;
        if self.frames == 0 || self.frames > MAX_FRAMES {
            return Err(Error::invalid(format!("frames must be in 1..={MAX_FRAMES}, got {}", self.frames)));
        }
        if self.max_objects == 0 {
            return Err(Error::invalid("max_objects must be at least 1"));
        }
        if self.min_objects > self.max_objects {
            return Err(Error::invalid(format!(
                "min_objects ({}) must not exceed max_objects ({})",
                self.min_objects, self.max_objects
            )));
        }
        check_nonempty("shapes", &self.shapes, ShapeKind::ALL)?;
        check_nonempty("backgrounds", &self.backgrounds, BackgroundKind::ALL)?;
        check_nonempty("motions", &self.motions, MotionKind::ALL)?;
        check_radius("min_radius", self.min_radius)?;
        check_radius("max_radius", self.max_radius)?;
        if self.min_radius > self.max_radius {
            return Err(Error::invalid(format!(
                "min_radius ({}) must not exceed max_radius ({})",
                self.min_radius, self.max_radius
            )));
        }
        if !(self.max_speed.is_finite() && (0.0..=1.0).contains(&self.max_speed)) {
            return Err(Error::invalid(format!(
                "max_speed must be a fraction of the frame side per frame in [0, 1], got {}",
                self.max_speed
            )));
        }
        let (lo, hi) = self.hue_range;
        if !(lo.is_finite() && hi.is_finite() && 0.0 <= lo && lo <= hi && hi <= 360.0) {
            return Err(Error::invalid(format!(
                "hue_range must satisfy 0 <= start <= end <= 360 degrees, got ({lo}, {hi})"
            )));
        }
        let fit = self.max_objects_that_fit();
        if self.max_objects > fit {
            return Err(Error::invalid(format!(
                "max_objects ({}) is more than fit: at most {fit} objects of min_radius {} fit a \
                 {}x{} frame (60% coverage, id limit {MAX_OBJECT_ID})",
                self.max_objects, self.min_radius, self.width, self.height
            )));
        }
        Ok(())
    }
}

fn check_side(field: &str, value: u32) -> Result<()> {
    if !(MIN_SIDE..=MAX_SIDE).contains(&value) {
        return Err(Error::invalid(format!("{field} must be between {MIN_SIDE} and {MAX_SIDE} pixels, got {value}")));
    }
    Ok(())
}

fn check_nonempty<T: std::fmt::Display>(field: &str, list: &[T], all: &[T]) -> Result<()> {
    if list.is_empty() {
        return Err(Error::invalid(format!("{field} must list at least one kind (valid: {})", valid_names(all))));
    }
    Ok(())
}

fn check_radius(field: &str, value: f32) -> Result<()> {
    // Written so that NaN fails too.
    if !(value > 0.0 && value <= 0.5) {
        return Err(Error::invalid(format!("{field} must be a fraction of the frame side in (0, 0.5], got {value}")));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_domain_files_load_and_bad_ones_are_named() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/domains");
        let hues = SynthConfig::from_json_file(&dir.join("similar-hues.json")).unwrap();
        assert_eq!(hues.hue_range, (180.0, 260.0));
        assert_eq!((hues.width, hues.height), (64, 64));
        let tmp = std::env::temp_dir().join(format!("slotrt-domain-{}.json", std::process::id()));
        let mut broken = serde_json::to_value(&hues).unwrap();
        broken["hue_range"] = serde_json::json!([300.0, 200.0]);
        std::fs::write(&tmp, broken.to_string()).unwrap();
        let err = SynthConfig::from_json_file(&tmp).unwrap_err().to_string();
        assert!(err.contains("slotrt-domain") && err.contains("hue_range"), "{err}");
        std::fs::write(&tmp, "{\"width\": 64").unwrap();
        assert!(SynthConfig::from_json_file(&tmp).unwrap_err().to_string().contains("slotrt-domain"));
        std::fs::remove_file(&tmp).unwrap();
        assert!(matches!(SynthConfig::from_json_file(&tmp), Err(Error::Io { .. })));
    }

    fn rejects(field: &str, edit: impl FnOnce(&mut SynthConfig)) {
        let mut c = SynthConfig::default();
        edit(&mut c);
        let err = c.validate().expect_err(field);
        assert!(matches!(err, Error::InvalidArgument(_)), "{err:?}");
        let msg = err.to_string();
        assert!(msg.contains(field), "message for {field} does not name it: {msg}");
    }

    #[test]
    fn default_is_valid() {
        let c = SynthConfig::default();
        c.validate().unwrap();
        assert!(!c.shapes.contains(&ShapeKind::Star) && !c.shapes.contains(&ShapeKind::Cross));
        assert_eq!(c.backgrounds.len(), 3);
        assert_eq!(c.motions.len(), 3);
    }

    #[test]
    fn rejects_each_bad_field() {
        rejects("width", |c| c.width = 0);
        rejects("width", |c| c.width = 7);
        rejects("width", |c| c.width = 4097);
        rejects("height", |c| c.height = 0);
        rejects("height", |c| c.height = 5000);
        rejects("frames", |c| c.frames = 0);
        rejects("frames", |c| c.frames = MAX_FRAMES + 1);
        rejects("max_objects", |c| {
            c.min_objects = 0;
            c.max_objects = 0
        });
        rejects("min_objects", |c| c.min_objects = 6);
        rejects("shapes", |c| c.shapes.clear());
        rejects("backgrounds", |c| c.backgrounds.clear());
        rejects("motions", |c| c.motions.clear());
        rejects("min_radius", |c| c.min_radius = 0.0);
        rejects("min_radius", |c| c.min_radius = f32::NAN);
        rejects("max_radius", |c| c.max_radius = 0.6);
        rejects("min_radius", |c| c.min_radius = 0.2); // > max_radius
        rejects("max_speed", |c| c.max_speed = -0.1);
        rejects("max_speed", |c| c.max_speed = f32::NAN);
        rejects("hue_range", |c| c.hue_range = (200.0, 100.0));
        rejects("hue_range", |c| c.hue_range = (-1.0, 100.0));
        rejects("hue_range", |c| c.hue_range = (0.0, 361.0));
        rejects("hue_range", |c| c.hue_range = (f32::NAN, 10.0));
        rejects("max_objects", |c| c.max_objects = 24);
    }

    #[test]
    fn zero_min_objects_is_allowed() {
        let c = SynthConfig { min_objects: 0, ..SynthConfig::default() };
        c.validate().unwrap();
    }

    #[test]
    fn objects_that_fit() {
        // r = 0.09 * 64 = 5.76 px: 0.6 * 4096 / (pi * 5.76^2) = 23.6.
        assert_eq!(SynthConfig::default().max_objects_that_fit(), 23);
        let tiny = SynthConfig { width: 4096, height: 4096, min_radius: 0.001, ..Default::default() };
        assert_eq!(tiny.max_objects_that_fit(), MAX_OBJECT_ID);
        let c = SynthConfig { max_objects: 24, ..Default::default() };
        let msg = c.validate().unwrap_err().to_string();
        assert!(msg.contains("at most 23") && msg.contains("64x64"), "{msg}");
    }

    #[test]
    fn serde_round_trip() {
        let c = SynthConfig { shapes: vec![ShapeKind::Star], ..Default::default() };
        let json = serde_json::to_string(&c).unwrap();
        assert!(json.contains("\"star\""), "{json}");
        assert_eq!(serde_json::from_str::<SynthConfig>(&json).unwrap(), c);
    }
}
