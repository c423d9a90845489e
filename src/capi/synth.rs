//! The synthetic video generator for C callers: ground-truth clips for
//! tests, demos and evaluation inside an engine.

use super::boundary::{arg_mut, arg_ref, check_struct_size, guard, guard_value, out_buffer, CallError, CallResult};
use super::enums::{bits_to_values, values_to_bits, SlotrtBackground, SlotrtMotion, SlotrtShape, SlotrtSplit};
use super::status::SlotrtStatus;
use crate::data::{self, Split, SynthConfig};

/// What to generate. Initialise with `slotrt_synth_options_init`, then
/// change fields. Enum-valued fields are plain integers so that an unknown
/// value is reported (SLOTRT_STATUS_UNKNOWN_ENUM) rather than undefined.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct SlotrtSynthOptions {
    /// sizeof(slotrt_synth_options); set by slotrt_synth_options_init.
    pub struct_size: u32,
    /// Frame size in pixels (8..4096 each).
    pub width: u32,
    pub height: u32,
    /// Frames per clip (>= 1).
    pub frames: u32,
    /// Objects per clip, drawn uniformly in [min_objects, max_objects].
    pub min_objects: u32,
    pub max_objects: u32,
    /// Bit set of slotrt_shape values to draw from (non-zero).
    pub shapes: u32,
    /// Bit set of slotrt_background values to draw from (non-zero).
    pub backgrounds: u32,
    /// Bit set of slotrt_motion values to draw from (non-zero).
    pub motions: u32,
    /// A slotrt_split value.
    pub split: u32,
    /// Which clip of the split; the same options and index give the same clip.
    pub clip_index: u64,
}

/// A generated clip: RGB frames and instance-id masks. Immutable: any number
/// of threads may read one clip at once; free it once with
/// `slotrt_synth_clip_free`.
pub struct SlotrtSynthClip {
    clip: data::Clip,
}

/// Shape of a generated clip.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct SlotrtSynthClipInfo {
    /// Set to sizeof(slotrt_synth_clip_info) before the call.
    pub struct_size: u32,
    pub width: u32,
    pub height: u32,
    pub frames: u32,
    /// Objects in the clip; their ids are 1..=num_objects in every frame.
    pub num_objects: u32,
    /// The seed the clip was generated from.
    pub seed: u64,
}

pub(crate) fn to_config(o: &SlotrtSynthOptions) -> CallResult<(SynthConfig, Split)> {
    let split = SlotrtSplit::parse(o.split, "options->split")?;
    let config = SynthConfig {
        width: o.width,
        height: o.height,
        frames: o.frames,
        min_objects: o.min_objects,
        max_objects: o.max_objects,
        shapes: bits_to_values(o.shapes, SlotrtShape::ALL, SlotrtShape::to_rust, "options->shapes", "slotrt_shape")?,
        backgrounds: bits_to_values(
            o.backgrounds,
            SlotrtBackground::ALL,
            SlotrtBackground::to_rust,
            "options->backgrounds",
            "slotrt_background",
        )?,
        motions: bits_to_values(
            o.motions,
            SlotrtMotion::ALL,
            SlotrtMotion::to_rust,
            "options->motions",
            "slotrt_motion",
        )?,
        ..SynthConfig::default()
    };
    Ok((config, split))
}

/// Fills `options` with the defaults (64x64, 16 frames, 2-5 objects, the
/// four basic shapes, every background and motion kind, train split,
/// clip 0) and sets its struct_size.
///
/// # Safety
/// `options` points to a writable slotrt_synth_options.
#[no_mangle]
pub unsafe extern "C" fn slotrt_synth_options_init(options: *mut SlotrtSynthOptions) -> SlotrtStatus {
    guard("slotrt_synth_options_init", || {
        let out = unsafe { arg_mut(options, "options") }?;
        let d = SynthConfig::default();
        *out = SlotrtSynthOptions {
            struct_size: size_of::<SlotrtSynthOptions>() as u32,
            width: d.width,
            height: d.height,
            frames: d.frames,
            min_objects: d.min_objects,
            max_objects: d.max_objects,
            shapes: values_to_bits(&d.shapes, SlotrtShape::ALL, SlotrtShape::to_rust),
            backgrounds: values_to_bits(&d.backgrounds, SlotrtBackground::ALL, SlotrtBackground::to_rust),
            motions: values_to_bits(&d.motions, SlotrtMotion::ALL, SlotrtMotion::to_rust),
            split: SlotrtSplit::raw(Split::Train),
            clip_index: 0,
        };
        Ok(())
    })
}

/// Generates one clip. On success `*out_clip` owns a new clip (free it with
/// slotrt_synth_clip_free); on failure it is left untouched.
///
/// # Safety
/// `options` points to an initialised slotrt_synth_options; `out_clip`
/// points to a writable pointer.
#[no_mangle]
pub unsafe extern "C" fn slotrt_synth_clip_generate(
    options: *const SlotrtSynthOptions,
    out_clip: *mut *mut SlotrtSynthClip,
) -> SlotrtStatus {
    guard("slotrt_synth_clip_generate", || {
        let options = unsafe { arg_ref(options, "options") }?;
        let out_clip = unsafe { arg_mut(out_clip, "out_clip") }?;
        check_struct_size(options.struct_size, size_of::<SlotrtSynthOptions>(), "options")?;
        let (config, split) = to_config(options)?;
        let clip = data::generate_clip(&config, split, options.clip_index)?;
        *out_clip = Box::into_raw(Box::new(SlotrtSynthClip { clip }));
        Ok(())
    })
}

/// Describes a clip. `out->struct_size` must be sizeof(slotrt_synth_clip_info).
///
/// # Safety
/// `clip` is a live clip from slotrt_synth_clip_generate; `out` is writable.
#[no_mangle]
pub unsafe extern "C" fn slotrt_synth_clip_get_info(
    clip: *const SlotrtSynthClip,
    out: *mut SlotrtSynthClipInfo,
) -> SlotrtStatus {
    guard("slotrt_synth_clip_get_info", || {
        let clip = &unsafe { arg_ref(clip, "clip") }?.clip;
        let out = unsafe { arg_mut(out, "out") }?;
        check_struct_size(out.struct_size, size_of::<SlotrtSynthClipInfo>(), "out")?;
        *out = SlotrtSynthClipInfo {
            struct_size: out.struct_size,
            width: clip.width,
            height: clip.height,
            frames: clip.frames,
            num_objects: clip.num_objects,
            seed: clip.seed,
        };
        Ok(())
    })
}

/// Copies frame `t` into caller-owned buffers: `rgb` gets height*width*3
/// bytes (RGB8, rows packed), `ids` gets height*width instance ids (0 =
/// background). Either buffer may be NULL to skip it; a non-NULL buffer
/// smaller than needed gives SLOTRT_STATUS_BUFFER_TOO_SMALL and nothing is
/// written.
///
/// # Safety
/// `clip` is a live clip; non-NULL buffers hold at least their stated size.
#[no_mangle]
pub unsafe extern "C" fn slotrt_synth_clip_frame(
    clip: *const SlotrtSynthClip,
    t: u32,
    rgb: *mut u8,
    rgb_size: usize,
    ids: *mut u8,
    ids_size: usize,
) -> SlotrtStatus {
    guard("slotrt_synth_clip_frame", || {
        let clip = &unsafe { arg_ref(clip, "clip") }?.clip;
        if t >= clip.frames {
            return Err(CallError::new(
                SlotrtStatus::InvalidArgument,
                format!("frame `t` = {t} is out of range: the clip has {} frames", clip.frames),
            ));
        }
        let (src_rgb, src_ids) = (clip.frame_rgb(t as usize), clip.frame_ids(t as usize));
        // Check both buffers before writing either: nothing is written on error.
        let rgb_out =
            if rgb.is_null() { None } else { Some(unsafe { out_buffer(rgb, rgb_size, src_rgb.len(), "rgb") }?) };
        let ids_out =
            if ids.is_null() { None } else { Some(unsafe { out_buffer(ids, ids_size, src_ids.len(), "ids") }?) };
        if let Some(dst) = rgb_out {
            dst.copy_from_slice(src_rgb);
        }
        if let Some(dst) = ids_out {
            dst.copy_from_slice(src_ids);
        }
        Ok(())
    })
}

/// Frees a clip. NULL is a no-op. The clip must not be used afterwards.
///
/// # Safety
/// `clip` is NULL or a clip from slotrt_synth_clip_generate not yet freed.
#[no_mangle]
pub unsafe extern "C" fn slotrt_synth_clip_free(clip: *mut SlotrtSynthClip) {
    guard_value("slotrt_synth_clip_free", (), || {
        if !clip.is_null() {
            drop(unsafe { Box::from_raw(clip) });
        }
    })
}
