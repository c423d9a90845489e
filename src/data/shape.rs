//! Shape geometry: which points an object covers and how far it reaches.
//!
//! Shapes are defined in a unit frame (radius 1, centred at the origin, y
//! pointing down like image rows); `SceneObject` maps pixels into that frame
//! by translating, rotating and dividing by `radius` (and `radius * aspect`
//! along the object's local y axis).

use std::sync::LazyLock;

use super::kinds::ShapeKind;

/// Half side of the square; chosen so its area (2.89 r^2) is close to a disc's.
const SQUARE_HALF: f32 = 0.85;
/// Circumradius of the triangle; its area is then 1.87 r^2.
const TRIANGLE_R: f32 = 1.2;
/// Outer and inner radius of the five-pointed star.
const STAR_OUTER: f32 = 1.25;
const STAR_INNER: f32 = 0.5;
/// Half width of each bar of the cross (bars reach out to 1).
const CROSS_HALF_WIDTH: f32 = 0.34;

/// The star's ten vertices, alternating outer and inner, first point up.
static STAR: LazyLock<[[f32; 2]; 10]> = LazyLock::new(|| {
    let mut v = [[0.0; 2]; 10];
    for (k, p) in v.iter_mut().enumerate() {
        let r = if k % 2 == 0 { STAR_OUTER } else { STAR_INNER };
        let a = -std::f32::consts::FRAC_PI_2 + k as f32 * std::f32::consts::PI / 5.0;
        *p = [r * a.cos(), r * a.sin()];
    }
    v
});

impl ShapeKind {
    /// Largest distance from the centre to the outline, in units of radius,
    /// at aspect 1. Used for bounding boxes and for keeping objects in frame.
    pub fn extent_factor(self) -> f32 {
        match self {
            ShapeKind::Disc | ShapeKind::Ellipse => 1.0,
            ShapeKind::Square => SQUARE_HALF * std::f32::consts::SQRT_2,
            ShapeKind::Triangle => TRIANGLE_R,
            ShapeKind::Star => STAR_OUTER,
            ShapeKind::Cross => (1.0 + CROSS_HALF_WIDTH * CROSS_HALF_WIDTH).sqrt(),
        }
    }

    /// Whether the point `(u, v)` of the unit frame lies inside the shape.
    /// NaN coordinates (degenerate objects) are outside.
    pub fn contains_unit(self, u: f32, v: f32) -> bool {
        match self {
            ShapeKind::Disc | ShapeKind::Ellipse => u * u + v * v <= 1.0,
            ShapeKind::Square => u.abs() <= SQUARE_HALF && v.abs() <= SQUARE_HALF,
            ShapeKind::Triangle => {
                // Equilateral, apex up: inside all three edges, each at the
                // inradius (half the circumradius) from the centre.
                let inr = TRIANGLE_R * 0.5;
                let (c, s) = (3f32.sqrt() * 0.5, 0.5);
                v <= inr && -c * u - s * v <= inr && c * u - s * v <= inr
            }
            ShapeKind::Star => {
                if !(u.is_finite() && v.is_finite()) || u * u + v * v > STAR_OUTER * STAR_OUTER {
                    return false;
                }
                point_in_polygon(&STAR[..], u, v)
            }
            ShapeKind::Cross => {
                let (au, av) = (u.abs(), v.abs());
                (au <= 1.0 && av <= CROSS_HALF_WIDTH) || (au <= CROSS_HALF_WIDTH && av <= 1.0)
            }
        }
    }
}

/// Even-odd ray casting test.
fn point_in_polygon(poly: &[[f32; 2]], x: f32, y: f32) -> bool {
    let mut inside = false;
    let mut j = poly.len() - 1;
    for i in 0..poly.len() {
        let ([xi, yi], [xj, yj]) = (poly[i], poly[j]);
        if (yi > y) != (yj > y) && x < (xj - xi) * (y - yi) / (yj - yi) + xi {
            inside = !inside;
        }
        j = i;
    }
    inside
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Area (in r^2) and farthest covered point, sampled on a fine grid.
    fn measure(shape: ShapeKind) -> (f32, f32) {
        let (n, half) = (400, 1.5f32);
        let step = 2.0 * half / n as f32;
        let (mut count, mut reach) = (0u32, 0f32);
        for i in 0..n {
            for j in 0..n {
                let u = -half + (i as f32 + 0.5) * step;
                let v = -half + (j as f32 + 0.5) * step;
                if shape.contains_unit(u, v) {
                    count += 1;
                    reach = reach.max((u * u + v * v).sqrt());
                }
            }
        }
        (count as f32 * step * step, reach)
    }

    #[test]
    fn shapes_are_solid_bounded_and_comparable_in_size() {
        for &shape in ShapeKind::ALL {
            assert!(shape.contains_unit(0.0, 0.0), "{shape} misses its centre");
            let (area, reach) = measure(shape);
            assert!(reach <= shape.extent_factor() + 1e-3, "{shape}: {reach}");
            assert!(reach >= shape.extent_factor() - 0.02, "{shape}: extent too loose");
            assert!((1.2..=3.2).contains(&area), "{shape}: area {area}");
            assert!(!shape.contains_unit(f32::NAN, 0.0));
        }
    }

    #[test]
    fn triangle_points_up_and_star_has_notches() {
        assert!(ShapeKind::Triangle.contains_unit(0.0, -1.1));
        assert!(!ShapeKind::Triangle.contains_unit(0.0, 1.1));
        // Between two star tips, well inside the outer radius, is empty.
        let a = -std::f32::consts::FRAC_PI_2 + std::f32::consts::PI / 5.0;
        assert!(!ShapeKind::Star.contains_unit(0.9 * a.cos(), 0.9 * a.sin()));
        assert!(ShapeKind::Star.contains_unit(0.0, -1.2));
        assert!(!ShapeKind::Cross.contains_unit(0.6, 0.6));
    }
}
