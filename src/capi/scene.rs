//! A live synthetic scene: the generator's objects as a tiny simulator that
//! a caller steps and steers (interactive environments, RL tests), with
//! ground-truth positions and instance masks.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use super::boundary::{arg_mut, arg_ref, check_struct_size, guard, guard_value, out_buffer, CallError, CallResult};
use super::enums::{SlotrtMotion, SlotrtShape};
use super::status::SlotrtStatus;
use super::synth::{to_config, SlotrtSynthOptions};
use crate::data::{MotionKind, Scene};

/// A scene of objects on a background. Not thread-safe: use one scene from
/// one thread at a time.
pub struct SlotrtScene {
    scene: Scene,
}

/// One object's state. Coordinates are pixels from the top-left corner.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct SlotrtSceneObject {
    /// Set to sizeof(slotrt_scene_object) before the call.
    pub struct_size: u32,
    /// Its id in the instance masks (1..=num_objects, in draw order).
    pub id: u32,
    /// A slotrt_shape and a slotrt_motion value.
    pub shape: u32,
    pub motion: u32,
    pub colour: [u8; 3],
    /// Centre, velocity (pixels per advance) and size (radius in pixels).
    pub x: f32,
    pub y: f32,
    pub vx: f32,
    pub vy: f32,
    pub radius: f32,
}

/// A random scene drawn from `options` (size, object count, shapes,
/// backgrounds, motions; `frames`, `split` and `clip_index` are unused)
/// with `seed`: the same options and seed give the same scene.
///
/// # Safety
/// `options` is initialised; `out_scene` points to a writable pointer.
#[no_mangle]
pub unsafe extern "C" fn slotrt_scene_create(
    options: *const SlotrtSynthOptions,
    seed: u64,
    out_scene: *mut *mut SlotrtScene,
) -> SlotrtStatus {
    guard("slotrt_scene_create", || {
        let options = unsafe { arg_ref(options, "options") }?;
        let out = unsafe { arg_mut(out_scene, "out_scene") }?;
        check_struct_size(options.struct_size, size_of::<SlotrtSynthOptions>(), "options")?;
        let (config, _) = to_config(options)?;
        let scene = Scene::random(&config, &mut ChaCha8Rng::seed_from_u64(seed))?;
        *out = Box::into_raw(Box::new(SlotrtScene { scene }));
        Ok(())
    })
}

/// Number of objects in the scene.
///
/// # Safety
/// `scene` is live; `out_count` is writable.
#[no_mangle]
pub unsafe extern "C" fn slotrt_scene_num_objects(scene: *const SlotrtScene, out_count: *mut u32) -> SlotrtStatus {
    guard("slotrt_scene_num_objects", || {
        let s = unsafe { arg_ref(scene, "scene") }?;
        *unsafe { arg_mut(out_count, "out_count") }? = s.scene.objects.len() as u32;
        Ok(())
    })
}

fn object_index(s: &SlotrtScene, index: u32) -> CallResult<usize> {
    let n = s.scene.objects.len();
    if (index as usize) < n {
        Ok(index as usize)
    } else {
        Err(CallError::new(SlotrtStatus::InvalidArgument, format!("object `index` {index} is out of range (0..{n})")))
    }
}

/// The state of object `index` (0-based draw order; its mask id is index+1).
///
/// # Safety
/// `scene` is live; `out` is writable with struct_size set.
#[no_mangle]
pub unsafe extern "C" fn slotrt_scene_get_object(
    scene: *const SlotrtScene,
    index: u32,
    out: *mut SlotrtSceneObject,
) -> SlotrtStatus {
    guard("slotrt_scene_get_object", || {
        let s = unsafe { arg_ref(scene, "scene") }?;
        let out = unsafe { arg_mut(out, "out") }?;
        check_struct_size(out.struct_size, size_of::<SlotrtSceneObject>(), "out")?;
        let o = &s.scene.objects[object_index(s, index)?];
        *out = SlotrtSceneObject {
            struct_size: out.struct_size,
            id: o.id as u32,
            shape: SlotrtShape::raw(o.shape),
            motion: SlotrtMotion::raw(o.motion),
            colour: o.colour,
            x: o.center[0],
            y: o.center[1],
            vx: o.velocity[0],
            vy: o.velocity[1],
            radius: o.radius,
        };
        Ok(())
    })
}

/// Steers object `index`: from now on it moves by (vx, vy) pixels per
/// advance and bounces off the frame's borders (an agent's body).
///
/// # Safety
/// `scene` is live.
#[no_mangle]
pub unsafe extern "C" fn slotrt_scene_steer(scene: *mut SlotrtScene, index: u32, vx: f32, vy: f32) -> SlotrtStatus {
    guard("slotrt_scene_steer", || {
        let s = unsafe { arg_mut(scene, "scene") }?;
        if !vx.is_finite() || !vy.is_finite() || vx.abs() > 64.0 || vy.abs() > 64.0 {
            return Err(CallError::new(
                SlotrtStatus::InvalidArgument,
                format!("velocity ({vx}, {vy}) must be finite and at most 64 pixels per step"),
            ));
        }
        let i = object_index(s, index)?;
        let o = &mut s.scene.objects[i];
        o.velocity = [vx, vy];
        o.motion = MotionKind::Bounce;
        Ok(())
    })
}

/// Repaints object `index` with the colour (r, g, b).
///
/// # Safety
/// `scene` is live.
#[no_mangle]
pub unsafe extern "C" fn slotrt_scene_set_colour(
    scene: *mut SlotrtScene,
    index: u32,
    r: u8,
    g: u8,
    b: u8,
) -> SlotrtStatus {
    guard("slotrt_scene_set_colour", || {
        let s = unsafe { arg_mut(scene, "scene") }?;
        let i = object_index(s, index)?;
        s.scene.objects[i].colour = [r, g, b];
        Ok(())
    })
}

/// Moves every object by one step of its motion.
///
/// # Safety
/// `scene` is live.
#[no_mangle]
pub unsafe extern "C" fn slotrt_scene_advance(scene: *mut SlotrtScene) -> SlotrtStatus {
    guard("slotrt_scene_advance", || {
        unsafe { arg_mut(scene, "scene") }?.scene.advance();
        Ok(())
    })
}

/// Draws the current frame: `rgb` gets width*height*3 bytes (packed RGB8),
/// `ids` width*height instance ids (0 = background). Either may be NULL.
///
/// # Safety
/// `scene` is live; non-NULL buffers hold their stated sizes.
#[no_mangle]
pub unsafe extern "C" fn slotrt_scene_render(
    scene: *const SlotrtScene,
    rgb: *mut u8,
    rgb_size: usize,
    ids: *mut u8,
    ids_size: usize,
) -> SlotrtStatus {
    guard("slotrt_scene_render", || {
        let s = unsafe { arg_ref(scene, "scene") }?;
        let n = s.scene.pixels();
        let rgb_out = if rgb.is_null() { None } else { Some(unsafe { out_buffer(rgb, rgb_size, 3 * n, "rgb") }?) };
        let ids_out = if ids.is_null() { None } else { Some(unsafe { out_buffer(ids, ids_size, n, "ids") }?) };
        let (frame, labels) = s.scene.render()?;
        if let Some(dst) = rgb_out {
            dst.copy_from_slice(&frame);
        }
        if let Some(dst) = ids_out {
            dst.copy_from_slice(&labels);
        }
        Ok(())
    })
}

/// Frees a scene. NULL is a no-op.
///
/// # Safety
/// `scene` is NULL or a scene not yet freed.
#[no_mangle]
pub unsafe extern "C" fn slotrt_scene_free(scene: *mut SlotrtScene) {
    guard_value("slotrt_scene_free", (), || {
        if !scene.is_null() {
            drop(unsafe { Box::from_raw(scene) });
        }
    })
}
