//! The scene model: objects on a static background, their motion, and
//! rasterisation to an RGB frame plus a per-pixel object-id mask.
//!
//! Kept independent of clip generation so an interactive environment can
//! build a scene, steer one object by editing its `center`/`velocity`, and
//! call `advance` and `render_into` itself.

use super::kinds::{MotionKind, ShapeKind};
use crate::error::{Error, Result};

/// One object of a scene. Coordinates are in pixels, continuous, with the
/// top-left corner of the frame at (0, 0); pixel `(x, y)` is sampled at its
/// centre `(x + 0.5, y + 0.5)`.
#[derive(Clone, Debug, PartialEq)]
pub struct SceneObject {
    /// Mask id, 1..=254, fixed for the whole clip (0 is the background).
    pub id: u8,
    pub shape: ShapeKind,
    /// Flat colour; every pixel the object owns has exactly this colour.
    pub colour: [u8; 3],
    /// Centre `[x, y]` in pixels; may lie outside the frame.
    pub center: [f32; 2],
    /// Size in pixels (a disc's radius; other shapes scale with it).
    pub radius: f32,
    /// Ratio of the local y extent to the x extent (1 = undistorted).
    pub aspect: f32,
    /// Rotation in radians (clockwise on screen, since y points down).
    pub angle: f32,
    /// Displacement `[dx, dy]` in pixels per frame.
    pub velocity: [f32; 2],
    pub motion: MotionKind,
}

impl SceneObject {
    /// Largest distance in pixels from the centre to any covered point.
    pub fn extent(&self) -> f32 {
        self.radius * self.shape.extent_factor() * self.aspect.max(1.0)
    }

    /// Whether the point `(x, y)` (pixels) is inside the object.
    pub fn contains(&self, x: f32, y: f32) -> bool {
        self.contains_rotated(self.angle.sin_cos(), x, y)
    }

    /// `contains` with the rotation's `(sin, cos)` precomputed.
    fn contains_rotated(&self, (sin, cos): (f32, f32), x: f32, y: f32) -> bool {
        let (dx, dy) = (x - self.center[0], y - self.center[1]);
        // Rotate the offset by -angle into the object's own frame.
        let lx = dx * cos + dy * sin;
        let ly = -dx * sin + dy * cos;
        self.shape.contains_unit(lx / self.radius, ly / (self.radius * self.aspect))
    }

    /// Moves the object by one frame of its motion model in a
    /// `width` x `height` frame.
    pub fn step(&mut self, width: f32, height: f32) {
        match self.motion {
            MotionKind::Static => {}
            MotionKind::Crossing => {
                self.center[0] += self.velocity[0];
                self.center[1] += self.velocity[1];
            }
            MotionKind::Bounce => {
                let extent = self.extent();
                for (axis, size) in [width, height].into_iter().enumerate() {
                    let (lo, hi) = bounce_bounds(extent, size);
                    let v = self.velocity[axis];
                    let mut p = self.center[axis] + v;
                    // Mirror the overshoot so motion stays continuous, and set
                    // the velocity's sign rather than flipping it, so an object
                    // placed outside the bounds heads back instead of jittering.
                    if p < lo {
                        p = 2.0 * lo - p;
                        self.velocity[axis] = v.abs();
                    } else if p > hi {
                        p = 2.0 * hi - p;
                        self.velocity[axis] = -v.abs();
                    }
                    self.center[axis] = p.clamp(lo, hi);
                }
            }
        }
    }
}

/// Range of centre positions along one axis that keeps a bouncing object of
/// the given extent fully inside; an object too big to fit is kept centred.
pub(crate) fn bounce_bounds(extent: f32, size: f32) -> (f32, f32) {
    let margin = extent.min(size * 0.5);
    (margin, size - margin)
}

/// A static background and objects drawn back to front.
#[derive(Clone, Debug, PartialEq)]
pub struct Scene {
    pub width: u32,
    pub height: u32,
    /// Background image, `height * width * 3` bytes, row-major RGB.
    pub background: Vec<u8>,
    /// Draw order: later objects occlude earlier ones.
    pub objects: Vec<SceneObject>,
}

impl Scene {
    /// Number of pixels of one frame.
    pub fn pixels(&self) -> usize {
        self.width as usize * self.height as usize
    }

    /// Moves every object by one frame.
    pub fn advance(&mut self) {
        let (w, h) = (self.width as f32, self.height as f32);
        for obj in &mut self.objects {
            obj.step(w, h);
        }
    }

    /// Draws the current frame: `rgb` (`H*W*3`) gets the background with the
    /// objects on top, `ids` (`H*W`) gets 0 for background and the id of the
    /// topmost object elsewhere. Where `ids` names an object, `rgb` holds
    /// exactly that object's colour. Fails if a buffer or the background has
    /// the wrong length or an object uses the reserved id 0.
    pub fn render_into(&self, rgb: &mut [u8], ids: &mut [u8]) -> Result<()> {
        let n = self.pixels();
        check_len("scene background", self.background.len(), n * 3)?;
        check_len("rgb buffer", rgb.len(), n * 3)?;
        check_len("ids buffer", ids.len(), n)?;
        rgb.copy_from_slice(&self.background);
        ids.fill(0);
        for obj in &self.objects {
            if obj.id == 0 {
                return Err(Error::invalid("object id 0 is reserved for the background"));
            }
            self.draw(obj, rgb, ids);
        }
        Ok(())
    }

    /// Convenience wrapper around `render_into` that allocates the buffers.
    pub fn render(&self) -> Result<(Vec<u8>, Vec<u8>)> {
        let mut rgb = vec![0; self.pixels() * 3];
        let mut ids = vec![0; self.pixels()];
        self.render_into(&mut rgb, &mut ids)?;
        Ok((rgb, ids))
    }

    fn draw(&self, obj: &SceneObject, rgb: &mut [u8], ids: &mut [u8]) {
        let extent = obj.extent();
        if !(extent.is_finite() && extent > 0.0) {
            return;
        }
        // Pixels whose centre can be within `extent` of the object's centre.
        let w = i64::from(self.width);
        let h = i64::from(self.height);
        let span = |c: f32, size: i64| {
            let lo = ((c - extent - 0.5).floor() as i64).max(0);
            let hi = ((c + extent - 0.5).ceil() as i64).min(size - 1);
            (lo, hi)
        };
        let (x0, x1) = span(obj.center[0], w);
        let (y0, y1) = span(obj.center[1], h);
        let rot = obj.angle.sin_cos();
        for y in y0..=y1 {
            for x in x0..=x1 {
                if obj.contains_rotated(rot, x as f32 + 0.5, y as f32 + 0.5) {
                    let i = (y * w + x) as usize;
                    ids[i] = obj.id;
                    rgb[i * 3..i * 3 + 3].copy_from_slice(&obj.colour);
                }
            }
        }
    }
}

fn check_len(what: &str, got: usize, want: usize) -> Result<()> {
    if got != want {
        return Err(Error::invalid(format!("{what} has {got} bytes, expected {want}")));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn disc(id: u8, center: [f32; 2], radius: f32, colour: [u8; 3]) -> SceneObject {
        SceneObject {
            id,
            shape: ShapeKind::Disc,
            colour,
            center,
            radius,
            aspect: 1.0,
            angle: 0.0,
            velocity: [0.0, 0.0],
            motion: MotionKind::Static,
        }
    }

    fn blank(width: u32, height: u32, objects: Vec<SceneObject>) -> Scene {
        let background = vec![10; (width * height * 3) as usize];
        Scene { width, height, background, objects }
    }

    #[test]
    fn later_object_owns_the_overlap() {
        let a = disc(1, [12.0, 16.0], 8.0, [200, 0, 0]);
        let b = disc(2, [20.0, 16.0], 8.0, [0, 200, 0]);
        let scene = blank(32, 32, vec![a, b]);
        let (rgb, ids) = scene.render().unwrap();
        let at = |x: usize, y: usize| (ids[y * 32 + x], &rgb[(y * 32 + x) * 3..(y * 32 + x) * 3 + 3]);
        assert_eq!(at(16, 16), (2, &[0u8, 200, 0][..])); // overlap
        assert_eq!(at(6, 16), (1, &[200u8, 0, 0][..])); // only a
        assert_eq!(at(26, 16), (2, &[0u8, 200, 0][..])); // only b
        assert_eq!(at(0, 0), (0, &[10u8, 10, 10][..])); // background
                                                        // Swapping the draw order swaps the owner of the overlap.
        let swapped = blank(32, 32, scene.objects.iter().rev().cloned().collect());
        assert_eq!(swapped.render().unwrap().1[16 * 32 + 16], 1);
    }

    #[test]
    fn disc_covers_the_expected_pixels() {
        let scene = blank(20, 20, vec![disc(3, [10.0, 10.0], 4.0, [255, 255, 255])]);
        let (_, ids) = scene.render().unwrap();
        let count = ids.iter().filter(|&&i| i == 3).count();
        // Pixel-centre sampling of a radius-4 disc: close to pi * 16 = 50.3.
        assert!((44..=56).contains(&count), "{count}");
        for y in 0..20 {
            for x in 0..20 {
                let (dx, dy) = (x as f32 + 0.5 - 10.0, y as f32 + 0.5 - 10.0);
                assert_eq!(ids[y * 20 + x] == 3, dx * dx + dy * dy <= 16.0);
            }
        }
    }

    #[test]
    fn static_stays_and_crossing_keeps_going() {
        let mut s = disc(1, [10.0, 10.0], 3.0, [255, 0, 0]);
        s.velocity = [1.0, 1.0]; // ignored: static
        let mut c = disc(2, [10.0, 10.0], 3.0, [0, 255, 0]);
        c.motion = MotionKind::Crossing;
        c.velocity = [1.5, -0.5];
        let mut scene = blank(32, 24, vec![s, c]);
        for _ in 0..100 {
            scene.advance();
        }
        assert_eq!(scene.objects[0].center, [10.0, 10.0]);
        assert_eq!(scene.objects[1].velocity, [1.5, -0.5]);
        assert!((scene.objects[1].center[0] - 160.0).abs() < 1e-3);
        assert!((scene.objects[1].center[1] + 40.0).abs() < 1e-3);
    }

    #[test]
    fn bounce_reflects_at_the_border() {
        let mut b = disc(1, [28.0, 12.0], 3.0, [255, 0, 0]);
        b.motion = MotionKind::Bounce;
        b.velocity = [2.5, 0.0];
        let mut scene = blank(32, 24, vec![b]);
        scene.advance(); // 30.5 > 29 -> mirrored to 27.5
        assert_eq!(scene.objects[0].center, [27.5, 12.0]);
        assert_eq!(scene.objects[0].velocity, [-2.5, 0.0]);
        // Placed outside the frame it heads back in and is clamped inside.
        scene.objects[0].center = [-10.0, 12.0];
        scene.objects[0].velocity = [-1.0, 0.0];
        scene.advance();
        assert_eq!(scene.objects[0].velocity[0], 1.0);
        assert!(scene.objects[0].center[0] >= 3.0);
    }

    #[test]
    fn crossing_object_enters_and_leaves() {
        let mut c = disc(1, [-6.0, 12.0], 4.0, [0, 0, 255]);
        c.motion = MotionKind::Crossing;
        c.velocity = [1.5, 0.2];
        let mut scene = blank(40, 24, vec![c]);
        let mut present = Vec::new();
        for _ in 0..60 {
            let (_, ids) = scene.render().unwrap();
            present.push(ids.contains(&1));
            scene.advance();
        }
        assert!(!present[0], "starts fully outside");
        assert!(present.iter().any(|&p| p), "never visible");
        assert!(!present[59], "never left");
        // Visible frames are one contiguous run: it enters once and leaves once.
        let first = present.iter().position(|&p| p).unwrap();
        let last = present.iter().rposition(|&p| p).unwrap();
        assert!(present[first..=last].iter().all(|&p| p));
    }

    #[test]
    fn rejects_bad_buffers_and_id_zero() {
        let mut scene = blank(16, 8, vec![disc(1, [8.0, 4.0], 2.0, [1, 2, 3])]);
        let mut rgb = vec![0; 16 * 8 * 3];
        let mut ids = vec![0; 16 * 8];
        assert!(scene.render_into(&mut rgb[1..], &mut ids).is_err());
        assert!(scene.render_into(&mut rgb, &mut ids[1..]).is_err());
        scene.objects[0].id = 0;
        let msg = scene.render_into(&mut rgb, &mut ids).unwrap_err().to_string();
        assert!(msg.contains("id 0"), "{msg}");
        scene.background.pop();
        assert!(scene.render_into(&mut rgb, &mut ids).is_err());
    }
}
