//! Loading a model: the immutable weights that sessions share.

use std::ffi::{c_char, CStr, CString};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::sync::Arc;

use super::boundary::{arg_mut, arg_ref, check_struct_size, guard, guard_value, CallError};
use super::enums::{device_from_c, device_to_c, mask_kind_to_c, SlotrtInitKind, SlotrtLayout, SlotrtPrecision};
use super::status::SlotrtStatus;
use crate::model::config::ChannelOrder;
use crate::runtime::{ModelOptions, RuntimeModel};

/// A loaded model. Immutable: any number of sessions and threads may use
/// one model at once. Sessions keep the weights alive, so the model may be
/// freed while sessions created from it still run.
pub struct SlotrtModel {
    pub(crate) model: Arc<RuntimeModel>,
    description: CString,
}

#[cfg(test)]
impl SlotrtModel {
    /// A handle on a model built in-process (tests only: C loads files).
    pub(crate) fn from_runtime(model: Arc<RuntimeModel>) -> Self {
        let description = CString::new(model.info().description.replace('\0', " ")).expect("no NUL");
        SlotrtModel { model, description }
    }
}

#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct SlotrtModelOptions {
    /// sizeof(slotrt_model_options); set by slotrt_model_options_init.
    pub struct_size: u32,
    /// A slotrt_device_type value (default CPU).
    pub device_type: u32,
    /// CUDA device index (CUDA only).
    pub device_index: u32,
    /// libtorch intra-op threads, 0..=256 (0 = libtorch's default; more is
    /// SLOTRT_STATUS_INVALID_ARGUMENT). libtorch's pool
    /// is process-wide: the last load that sets it wins. When several
    /// threads run models (a session's worker, a fine-tuning trainer, the
    /// caller's process calls), start the process with
    /// OMP_WAIT_POLICY=PASSIVE: idle OpenMP teams otherwise spin on the
    /// cores the others need. Where RSS is watched,
    /// MALLOC_MMAP_THRESHOLD_=262144 (glibc) keeps it flat: by default it
    /// swings as glibc reuses freed tensors. Measurements of both:
    /// benches/README.md.
    pub threads: u32,
    /// A slotrt_precision value (default SLOTRT_PRECISION_FP32).
    pub precision: u32,
    /// A slotrt_layout value (default SLOTRT_LAYOUT_AUTO).
    pub layout: u32,
}

/// What a model needs and returns; fixed for the model's life.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct SlotrtModelInfo {
    /// Set to sizeof(slotrt_model_info) before the call.
    pub struct_size: u32,
    /// K slots of D floats each.
    pub num_slots: u32,
    pub slot_dim: u32,
    /// Frames are resized to this size (any input size is accepted).
    pub input_height: u32,
    pub input_width: u32,
    /// Decoder masks (mask source SLOTRT_MASK_SOURCE_DECODER).
    pub mask_height: u32,
    pub mask_width: u32,
    /// Attention masks (mask source SLOTRT_MASK_SOURCE_ATTENTION).
    pub attention_height: u32,
    pub attention_width: u32,
    /// A slotrt_init_kind value.
    pub init: u32,
    /// True when slots are carried to the next frame through a predictor.
    pub has_predictor: bool,
    /// Normalisation after scaling pixels to [0, 1]: (x - mean) / std, per
    /// channel in the model's channel order.
    pub mean: [f32; 3],
    pub std: [f32; 3],
    /// True when the model takes channels as B, G, R (frames are converted).
    pub bgr: bool,
    /// Bundle format version.
    pub format_version: u32,
    /// A slotrt_device_type value and CUDA index.
    pub device_type: u32,
    pub device_index: u32,
    /// The bundle's description; valid while the model handle lives.
    pub description: *const c_char,
    /// The slotrt_precision the model runs in (never AUTO: what AUTO chose).
    pub precision: u32,
    /// The slotrt_mask_source the model segments with (DECODER or
    /// ATTENTION): what SLOTRT_MASK_SOURCE_MODEL serves.
    pub masks: u32,
    /// The slotrt_layout the model runs in (never AUTO: what AUTO chose).
    pub layout: u32,
}

/// Fills `options` with the defaults (CPU, libtorch's thread count, fp32,
/// layout by the CPU).
///
/// # Safety
/// `options` points to a writable slotrt_model_options.
#[no_mangle]
pub unsafe extern "C" fn slotrt_model_options_init(options: *mut SlotrtModelOptions) -> SlotrtStatus {
    guard("slotrt_model_options_init", || {
        let out = unsafe { arg_mut(options, "options") }?;
        let d = ModelOptions::default();
        let (device_type, device_index) = device_to_c(d.device);
        *out = SlotrtModelOptions {
            struct_size: size_of::<SlotrtModelOptions>() as u32,
            device_type,
            device_index,
            threads: d.threads as u32,
            precision: SlotrtPrecision::raw(d.precision),
            layout: SlotrtLayout::raw(d.layout),
        };
        Ok(())
    })
}

/// Loads a model bundle (.safetensors). `options` may be NULL for the
/// defaults. A missing, corrupt or truncated file, or one that does not
/// match its config, gives SLOTRT_STATUS_IO or SLOTRT_STATUS_BAD_MODEL
/// naming the problem; CUDA on a machine without it gives
/// SLOTRT_STATUS_DEVICE_UNAVAILABLE. On success `*out_model` owns the model
/// (free it with slotrt_model_free).
///
/// # Safety
/// `path` is a NUL-terminated string; `options` is NULL or initialised;
/// `out_model` points to a writable pointer.
#[no_mangle]
pub unsafe extern "C" fn slotrt_model_load(
    path: *const c_char,
    options: *const SlotrtModelOptions,
    out_model: *mut *mut SlotrtModel,
) -> SlotrtStatus {
    guard("slotrt_model_load", || {
        let path = unsafe { CStr::from_ptr(arg_ref(path, "path")?) };
        let out_model = unsafe { arg_mut(out_model, "out_model") }?;
        let mut opts = ModelOptions::default();
        if let Some(o) = unsafe { options.as_ref() } {
            check_struct_size(o.struct_size, size_of::<SlotrtModelOptions>(), "options")?;
            opts.device = device_from_c(o.device_type, o.device_index, "options->device_type")?;
            opts.threads = o.threads as usize;
            opts.precision = SlotrtPrecision::parse(o.precision, "options->precision")?;
            opts.layout = SlotrtLayout::parse(o.layout, "options->layout")?;
        }
        let model = RuntimeModel::load(Path::new(std::ffi::OsStr::from_bytes(path.to_bytes())), &opts)?;
        let description = CString::new(model.info().description.replace('\0', " "))
            .map_err(|e| CallError::new(SlotrtStatus::Internal, e.to_string()))?;
        *out_model = Box::into_raw(Box::new(SlotrtModel { model, description }));
        Ok(())
    })
}

/// Describes a model. Thread-safe.
///
/// # Safety
/// `model` is a live model; `out` is writable with struct_size set.
#[no_mangle]
pub unsafe extern "C" fn slotrt_model_get_info(model: *const SlotrtModel, out: *mut SlotrtModelInfo) -> SlotrtStatus {
    guard("slotrt_model_get_info", || {
        let handle = unsafe { arg_ref(model, "model") }?;
        let out = unsafe { arg_mut(out, "out") }?;
        check_struct_size(out.struct_size, size_of::<SlotrtModelInfo>(), "out")?;
        let info = handle.model.info();
        let pre = &handle.model.config().preprocess;
        let (device_type, device_index) = device_to_c(info.device);
        *out = SlotrtModelInfo {
            struct_size: out.struct_size,
            num_slots: info.num_slots as u32,
            slot_dim: info.slot_dim as u32,
            input_height: info.input_height as u32,
            input_width: info.input_width as u32,
            mask_height: info.mask_height as u32,
            mask_width: info.mask_width as u32,
            attention_height: info.attention_height as u32,
            attention_width: info.attention_width as u32,
            init: SlotrtInitKind::raw(info.init),
            has_predictor: info.has_predictor,
            mean: pre.mean.map(|v| v as f32),
            std: pre.std.map(|v| v as f32),
            bgr: pre.channel_order == ChannelOrder::Bgr,
            format_version: info.format_version,
            device_type,
            device_index,
            description: handle.description.as_ptr(),
            precision: SlotrtPrecision::raw(info.precision),
            masks: mask_kind_to_c(info.masks),
            layout: SlotrtLayout::raw(info.layout),
        };
        Ok(())
    })
}

/// Releases the caller's reference to a model. NULL is a no-op. Sessions
/// created from it keep working.
///
/// # Safety
/// `model` is NULL or a model from slotrt_model_load not yet freed.
#[no_mangle]
pub unsafe extern "C" fn slotrt_model_free(model: *mut SlotrtModel) {
    guard_value("slotrt_model_free", (), || {
        if !model.is_null() {
            drop(unsafe { Box::from_raw(model) });
        }
    })
}
