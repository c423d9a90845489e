//! Random scene sampling from a `SynthConfig`.

use std::f32::consts::{FRAC_PI_4, TAU};

use rand::seq::IndexedRandom;
use rand::Rng;

use super::background::{self, uniform};
use super::colour::{hsv_to_rgb, hue_distance};
use super::config::SynthConfig;
use super::kinds::{MotionKind, ShapeKind};
use super::scene::{bounce_bounds, Scene, SceneObject};
use crate::error::Result;

/// Candidates tried when spreading out hues and positions; the best one is
/// kept, so sampling never fails, it only gets less spread out.
const TRIES: usize = 12;

impl Scene {
    /// A random scene for `config` (validated first): a background, and a
    /// uniform number of objects in `[min_objects, max_objects]` with ids
    /// `1..=n` in draw order. Draws only from `rng`, so a seeded RNG gives a
    /// reproducible scene.
    pub fn random<R: Rng + ?Sized>(config: &SynthConfig, rng: &mut R) -> Result<Scene> {
        config.validate()?;
        let (width, height) = (config.width, config.height);
        let n = rng.random_range(config.min_objects..=config.max_objects) as usize;
        // Lists are non-empty after validate().
        let bg_kind = *config.backgrounds.choose(rng).expect("validated non-empty");
        let background = background::generate(bg_kind, width, height, rng);
        let hues = spread_hues(n, config.hue_range, rng);
        let side = config.side();
        let mut objects: Vec<SceneObject> = Vec::with_capacity(n);
        for (i, hue) in hues.into_iter().enumerate() {
            let shape = *config.shapes.choose(rng).expect("validated non-empty");
            let motion = *config.motions.choose(rng).expect("validated non-empty");
            let radius = uniform(rng, config.min_radius, config.max_radius) * side;
            // Only the ellipse is stretched; the other shapes keep their look.
            let aspect = if shape == ShapeKind::Ellipse { uniform(rng, 0.45, 0.8) } else { 1.0 };
            let angle = uniform(rng, 0.0, TAU);
            // Saturated and bright, unlike any background (value <= 0.4).
            let colour = hsv_to_rgb(hue, uniform(rng, 0.55, 1.0), uniform(rng, 0.75, 1.0));
            let mut obj = SceneObject {
                id: (i + 1) as u8, // validate() caps n at 254
                shape,
                colour,
                center: [0.0, 0.0],
                radius,
                aspect,
                angle,
                velocity: [0.0, 0.0],
                motion,
            };
            let max_speed = config.max_speed * side;
            match motion {
                MotionKind::Static | MotionKind::Bounce => {
                    obj.center = spread_position(&obj, &objects, width as f32, height as f32, rng);
                    if motion == MotionKind::Bounce {
                        let speed = max_speed * uniform(rng, 0.3, 1.0);
                        let (sin, cos) = uniform(rng, 0.0, TAU).sin_cos();
                        obj.velocity = [speed * cos, speed * sin];
                    }
                }
                MotionKind::Crossing => {
                    let speed = max_speed * uniform(rng, 0.6, 1.0);
                    start_crossing(&mut obj, speed, width as f32, height as f32, rng);
                }
            }
            objects.push(obj);
        }
        Ok(Scene { width, height, background, objects })
    }
}

/// `n` hues in `range`, each the best of several candidates at keeping away
/// from the hues already chosen, so objects rarely share a colour.
fn spread_hues<R: Rng + ?Sized>(n: usize, (lo, hi): (f32, f32), rng: &mut R) -> Vec<f32> {
    let mut hues: Vec<f32> = Vec::with_capacity(n);
    for _ in 0..n {
        let mut best = (f32::NEG_INFINITY, lo);
        for _ in 0..TRIES {
            let h = uniform(rng, lo, hi);
            let gap = hues.iter().map(|&o| hue_distance(h, o)).fold(f32::INFINITY, f32::min);
            if gap > best.0 {
                best = (gap, h);
            }
        }
        hues.push(best.1);
    }
    hues
}

/// A centre that keeps `obj` fully inside the frame, chosen among several
/// candidates to overlap the `placed` objects little: occlusion still occurs,
/// but an object starting completely hidden becomes rare.
fn spread_position<R: Rng + ?Sized>(
    obj: &SceneObject,
    placed: &[SceneObject],
    w: f32,
    h: f32,
    rng: &mut R,
) -> [f32; 2] {
    let e = obj.extent();
    let ((x0, x1), (y0, y1)) = (bounce_bounds(e, w), bounce_bounds(e, h));
    let mut best = (f32::NEG_INFINITY, [x0, y0]);
    for _ in 0..TRIES {
        let c = [uniform(rng, x0, x1), uniform(rng, y0, y1)];
        // Distance to the nearest other object, relative to their joint size.
        let score = placed
            .iter()
            .map(|o| {
                let d = ((c[0] - o.center[0]).powi(2) + (c[1] - o.center[1]).powi(2)).sqrt();
                d / (e + o.extent())
            })
            .fold(f32::INFINITY, f32::min);
        if score > best.0 {
            best = (score, c);
        }
        if score >= 1.0 {
            break; // no overlap at all: good enough
        }
    }
    best.1
}

/// Puts a crossing object just beyond a random edge (centre between on the
/// edge and one extent outside, so it starts partly or fully hidden) and
/// aims it into the frame within 45 degrees of the inward normal.
fn start_crossing<R: Rng + ?Sized>(obj: &mut SceneObject, speed: f32, w: f32, h: f32, rng: &mut R) {
    let edge = rng.random_range(0..4u32);
    let along = uniform(rng, 0.15, 0.85);
    let depth = uniform(rng, 0.0, obj.extent());
    let (center, normal) = match edge {
        0 => ([-depth, along * h], [1.0, 0.0]),
        1 => ([w + depth, along * h], [-1.0, 0.0]),
        2 => ([along * w, -depth], [0.0, 1.0]),
        _ => ([along * w, h + depth], [0.0, -1.0]),
    };
    let (sin, cos) = uniform(rng, -FRAC_PI_4, FRAC_PI_4).sin_cos();
    let dir = [normal[0] * cos - normal[1] * sin, normal[0] * sin + normal[1] * cos];
    obj.center = center;
    obj.velocity = [dir[0] * speed, dir[1] * speed];
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    fn scene(config: &SynthConfig, seed: u64) -> Scene {
        Scene::random(config, &mut ChaCha8Rng::seed_from_u64(seed)).unwrap()
    }

    #[test]
    fn ids_colours_and_counts() {
        let config = SynthConfig::default();
        for seed in 0..30 {
            let s = scene(&config, seed);
            let n = s.objects.len() as u32;
            assert!((config.min_objects..=config.max_objects).contains(&n));
            for (i, o) in s.objects.iter().enumerate() {
                assert_eq!(o.id as usize, i + 1);
                assert!(o.colour.iter().any(|&c| c >= 190), "object too dark: {:?}", o.colour);
            }
            // rgb is exactly the owner's colour wherever ids names an object.
            let (rgb, ids) = s.render().unwrap();
            for (p, &id) in ids.iter().enumerate() {
                assert!(u32::from(id) <= n);
                if id > 0 {
                    assert_eq!(rgb[p * 3..p * 3 + 3], s.objects[id as usize - 1].colour);
                }
            }
        }
    }

    #[test]
    fn bounce_objects_stay_in_frame_for_100_frames() {
        let config = SynthConfig {
            width: 48,
            height: 32,
            min_objects: 1,
            max_objects: 1,
            motions: vec![MotionKind::Bounce],
            shapes: ShapeKind::ALL.to_vec(),
            max_speed: 0.2,
            ..SynthConfig::default()
        };
        for seed in 0..20 {
            let mut s = scene(&config, seed);
            for _ in 0..100 {
                let o = &s.objects[0];
                let e = o.extent();
                assert!(o.center[0] >= e - 1e-3 && o.center[0] <= 48.0 - e + 1e-3, "{:?}", o.center);
                assert!(o.center[1] >= e - 1e-3 && o.center[1] <= 32.0 - e + 1e-3, "{:?}", o.center);
                assert!(s.render().unwrap().1.contains(&1), "bouncing object vanished");
                s.advance();
            }
        }
    }

    #[test]
    fn crossing_objects_start_at_an_edge_enter_and_leave() {
        let config = SynthConfig {
            min_objects: 1,
            max_objects: 1,
            motions: vec![MotionKind::Crossing],
            max_speed: 0.1,
            ..SynthConfig::default()
        };
        for seed in 0..20 {
            let mut s = scene(&config, seed);
            let o = &s.objects[0];
            let (e, [x, y]) = (o.extent(), o.center);
            // Partly or fully outside: the bounding circle crosses an edge.
            assert!(x - e <= 0.0 || y - e <= 0.0 || x + e >= 64.0 || y + e >= 64.0);
            let mut seen = Vec::new();
            for _ in 0..200 {
                seen.push(s.render().unwrap().1.contains(&1));
                s.advance();
            }
            assert!(seen.iter().any(|&v| v), "seed {seed}: never entered");
            assert!(!seen[199], "seed {seed}: never left");
        }
    }

    #[test]
    fn hues_respect_the_range() {
        let config = SynthConfig { hue_range: (100.0, 140.0), ..SynthConfig::default() };
        for seed in 0..10 {
            for o in scene(&config, seed).objects {
                let [r, g, b] = o.colour.map(i32::from);
                assert!(g >= r && g >= b, "not greenish: {:?}", o.colour);
            }
        }
    }
}
