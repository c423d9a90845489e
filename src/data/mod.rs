//! Synthetic multi-object video with exact ground truth.
//!
//! Clips show 2D shapes (discs, squares, triangles, ellipses, and the
//! held-out stars and crosses) with flat colours on plain, gradient or
//! textured backgrounds, moving statically, bouncing inside the frame, or
//! crossing through it. Every frame comes with a per-pixel object-id mask
//! that agrees exactly with the image, which is what slot models are scored
//! against.
//!
//! * [`SynthConfig`] says what to draw; [`SynthConfig::validate`] checks it.
//! * [`generate_clip`] turns `(config, split, index)` into a [`Clip`],
//!   deterministically; [`clip_seed`] keeps the splits' seeds disjoint.
//! * [`Scene`] is the reusable world model (sampling, motion, rendering),
//!   e.g. for an interactive environment that moves one object itself.
//! * [`files`] reads clips from `.npz` files and PNG folders (recordings,
//!   MuJoCo renders), the same [`Clip`] the generator makes.
//! * [`export`] writes PNGs and a preview GIF; [`preview`] draws a
//!   model's masks next to the ground truth.
//!
//! Self-contained: this layer uses nothing from the model, training, runtime,
//! C API or metrics layers.

mod background;
pub mod clip;
mod colour;
pub mod config;
pub mod export;
pub mod files;
pub mod kinds;
pub mod preview;
pub mod scene;
mod shape;
mod spawn;
pub mod split;

pub use clip::{generate_clip, record_clip, Clip, MAX_CLIP_BYTES};
pub use config::SynthConfig;
pub use export::{id_palette, write_clip_pngs};
pub use files::{list_clip_files, load_clip_file};
pub use kinds::{parse_list, BackgroundKind, MotionKind, ShapeKind};
pub use scene::{Scene, SceneObject};
pub use split::{clip_seed, Split, CLIPS_PER_SPLIT};
