//! Every C enum of the ABI and its one conversion table to the Rust type it
//! stands for. Fields hold enums as plain `u32` (an unknown value is
//! UNKNOWN_ENUM, never undefined behaviour); the numbers are ABI and never
//! change. `c_enum!` writes both directions from one list, so the two can
//! never disagree, and the tests below round-trip every value.

use tch::Device;

use super::boundary::{unknown_enum, CallResult};
use crate::data::{BackgroundKind, MotionKind, ShapeKind, Split};
use crate::model::config::MaskKind;
use crate::model::{Layout, Precision};
use crate::runtime::{InitKind, MaskRefinement, MaskSource, OverflowPolicy, PixelFormat};

/// Pixel layouts a frame may come in. Frames of any size are resized to
/// the model's input size.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SlotrtPixelFormat {
    /// 3 bytes per pixel: R, G, B.
    Rgb8 = 0,
    /// 3 bytes per pixel: B, G, R (OpenCV's default).
    Bgr8 = 1,
    /// 4 bytes per pixel: R, G, B, A (alpha ignored).
    Rgba8 = 2,
    /// 4 bytes per pixel: B, G, R, A (alpha ignored).
    Bgra8 = 3,
    /// 1 byte per pixel, used for all three channels.
    Gray8 = 4,
    /// Three float planes R, G, B with values in [0, 1]; `stride` is the
    /// bytes between rows of a plane and plane p starts at
    /// data + p * stride * height. NaN, infinity or a magnitude above 1e4
    /// (which would overflow the model and poison the carried slots) is
    /// rejected with SLOTRT_STATUS_INVALID_ARGUMENT.
    F32Chw = 5,
}

/// Where a model runs.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SlotrtDeviceType {
    Cpu = 0,
    /// A CUDA GPU; `device_index` picks which.
    Cuda = 1,
}

/// How a model starts an episode's slots.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SlotrtInitKind {
    /// Gaussian noise, drawn from a per-stream seed.
    Gaussian = 0,
    /// Learned queries: the same slots every episode.
    LearnedQueries = 1,
    /// From first-frame boxes (slotrt_stream_seed_boxes).
    Conditional = 2,
}

/// Numeric precision of a model's CNN encoder convolutions (the bulk of a
/// frame's compute without the decoder). Slot Attention, the predictor, the
/// decoder, normalisation, softmaxes and carried slots always stay fp32.
/// A reduced precision on a model without a CNN encoder is
/// SLOTRT_STATUS_UNSUPPORTED.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SlotrtPrecision {
    /// Every op in fp32: exact, the default.
    Fp32 = 0,
    /// Convolutions in bfloat16 (results differ from fp32 by ~1e-2
    /// relative). Faster than fp32 only on CUDA or a CPU with AMX-BF16; with
    /// AVX512-BF16 alone it runs natively but slower than fp32, and without
    /// either libtorch emulates it, many times slower.
    Bf16 = 1,
    /// Convolutions in float16: CUDA only (SLOTRT_STATUS_UNSUPPORTED on
    /// the CPU).
    Fp16 = 2,
    /// bf16 where it is faster (CUDA, or a CPU with AMX-BF16), else fp32;
    /// the choice is reported in slotrt_model_info.precision.
    Auto = 3,
}

/// Memory layout of a model's CNN encoder convolutions. The layouts agree
/// to float rounding (~1e-5), not bit for bit; deterministic runs with the
/// same layout are bit-identical. Channels-last on a model without a CNN
/// encoder is SLOTRT_STATUS_UNSUPPORTED.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SlotrtLayout {
    /// Channels-last on CPUs with AVX-512 (faster there for the shipped
    /// encoder), NCHW elsewhere (where channels-last is slower); the
    /// default. The choice is reported in slotrt_model_info.layout.
    /// Measurements: benches/README.md, "Memory layout".
    Auto = 0,
    /// libtorch's default: contiguous N, C, H, W.
    Nchw = 1,
    /// Channels innermost in memory, for the input and the weights.
    ChannelsLast = 2,
}

/// What a stream does when its frame queue is full.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SlotrtOverflow {
    /// Drop the oldest queued frame (counted in the stream's stats); the
    /// producer never waits.
    KeepLatest = 0,
    /// slotrt_stream_push waits for room; nothing is dropped.
    Block = 1,
}

/// Which masks results carry.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SlotrtMaskSource {
    /// Decoder alpha masks (mask_height x mask_width in the model info).
    Decoder = 0,
    /// Slot Attention's attention (attention_height x attention_width);
    /// cheaper: the decoder does not run.
    Attention = 1,
    /// The masks the model segments with (what it was trained and scored
    /// on; slotrt_model_info.masks says which); the default.
    Model = 2,
}

/// How served masks are brought to the model's input resolution.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SlotrtMaskRefinement {
    /// As the model's config says (its "refine" entry; none without one);
    /// the default.
    Model = 0,
    /// None: masks at their native size (attention grid or decoder output).
    Off = 1,
    /// Colour guided filter at the input size: each slot's mask edge moves
    /// onto the frame's colour edges. The model's parameters, or radius
    /// 1/16 of the input's shorter side and eps 1e-3.
    GuidedFilter = 2,
}

/// Model parts; bit positions in `slotrt_finetune_options.train_parts`.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SlotrtPart {
    /// The backbone (never trains when it is a frozen ViT/TorchScript one).
    Encoder = 0,
    /// Slot Attention and the slot initialiser.
    Grouping = 1,
    Predictor = 2,
    Decoder = 3,
}

/// Object shapes. Use as bit positions in `slotrt_synth_options.shapes`:
/// `(1u << SLOTRT_SHAPE_DISC) | (1u << SLOTRT_SHAPE_SQUARE)`.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SlotrtShape {
    Disc = 0,
    Square = 1,
    Triangle = 2,
    Ellipse = 3,
    Star = 4,
    Cross = 5,
}

/// Backgrounds; bit positions in `slotrt_synth_options.backgrounds`.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SlotrtBackground {
    Plain = 0,
    Gradient = 1,
    Textured = 2,
}

/// Motion kinds; bit positions in `slotrt_synth_options.motions`.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SlotrtMotion {
    /// Does not move.
    Static = 0,
    /// Moves in a straight line and bounces off the frame borders.
    Bounce = 1,
    /// Moves in a straight line through the frame: enters and leaves it.
    Crossing = 2,
}

/// Disjoint seed ranges: a clip index means a different clip in each split.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SlotrtSplit {
    Train = 0,
    Validation = 1,
    Test = 2,
}

/// `c_enum!(CType, "c_name", RustType { CVariant <=> RustValue, ... })`
/// gives `CType::ALL` (in C order), `from_raw`, `to_rust` and `parse` (a
/// C field to its Rust value, or UNKNOWN_ENUM naming the field). With
/// `both_ways` in front it also gives `from_rust` and `raw` (Rust value to
/// C number), exhaustive over the Rust type.
macro_rules! c_enum {
    ($c:ident, $c_name:literal, $rust:ty { $($variant:ident <=> $value:path),+ $(,)? }) => {
        // Not every enum needs every direction outside the tests.
        #[allow(dead_code)]
        impl $c {
            /// Every value, in C order.
            pub(crate) const ALL: &'static [$c] = &[$($c::$variant),+];

            pub(crate) fn from_raw(raw: u32) -> Option<$c> {
                Self::ALL.iter().copied().find(|v| *v as u32 == raw)
            }

            pub(crate) fn to_rust(self) -> $rust {
                match self {
                    $($c::$variant => $value),+
                }
            }

            /// The Rust value of the C field or argument `field`.
            pub(crate) fn parse(raw: u32, field: &str) -> CallResult<$rust> {
                Self::from_raw(raw).map(Self::to_rust).ok_or_else(|| unknown_enum(field, raw, $c_name))
            }
        }
    };
    (both_ways $c:ident, $c_name:literal, $rust:ty { $($variant:ident <=> $value:path),+ $(,)? }) => {
        c_enum!($c, $c_name, $rust { $($variant <=> $value),+ });

        #[allow(dead_code)]
        impl $c {
            pub(crate) fn from_rust(value: $rust) -> $c {
                match value {
                    $($value => $c::$variant),+
                }
            }

            /// The C number of `value`.
            pub(crate) fn raw(value: $rust) -> u32 {
                Self::from_rust(value) as u32
            }
        }
    };
}

c_enum!(both_ways SlotrtPixelFormat, "slotrt_pixel_format", PixelFormat {
    Rgb8 <=> PixelFormat::Rgb8,
    Bgr8 <=> PixelFormat::Bgr8,
    Rgba8 <=> PixelFormat::Rgba8,
    Bgra8 <=> PixelFormat::Bgra8,
    Gray8 <=> PixelFormat::Gray8,
    F32Chw <=> PixelFormat::F32Chw,
});

/// Whether a device is a CUDA one; the index travels in its own field.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum DeviceKind {
    Cpu,
    Cuda,
}

c_enum!(both_ways SlotrtDeviceType, "slotrt_device_type", DeviceKind {
    Cpu <=> DeviceKind::Cpu,
    Cuda <=> DeviceKind::Cuda,
});

/// The device of C fields `device_type` (named `field`) and `device_index`.
pub(crate) fn device_from_c(device_type: u32, device_index: u32, field: &str) -> CallResult<Device> {
    Ok(match SlotrtDeviceType::parse(device_type, field)? {
        DeviceKind::Cpu => Device::Cpu,
        DeviceKind::Cuda => Device::Cuda(device_index as usize),
    })
}

/// `device` as C fields (device_type, device_index).
pub(crate) fn device_to_c(device: Device) -> (u32, u32) {
    match device {
        Device::Cuda(i) => (SlotrtDeviceType::raw(DeviceKind::Cuda), i as u32),
        _ => (SlotrtDeviceType::raw(DeviceKind::Cpu), 0),
    }
}

c_enum!(both_ways SlotrtInitKind, "slotrt_init_kind", InitKind {
    Gaussian <=> InitKind::Gaussian,
    LearnedQueries <=> InitKind::LearnedQueries,
    Conditional <=> InitKind::Conditional,
});

c_enum!(both_ways SlotrtPrecision, "slotrt_precision", Precision {
    Fp32 <=> Precision::Fp32,
    Bf16 <=> Precision::Bf16,
    Fp16 <=> Precision::Fp16,
    Auto <=> Precision::Auto,
});

c_enum!(both_ways SlotrtLayout, "slotrt_layout", Layout {
    Auto <=> Layout::Auto,
    Nchw <=> Layout::Nchw,
    ChannelsLast <=> Layout::ChannelsLast,
});

c_enum!(both_ways SlotrtOverflow, "slotrt_overflow", OverflowPolicy {
    KeepLatest <=> OverflowPolicy::KeepLatest,
    Block <=> OverflowPolicy::Block,
});

c_enum!(both_ways SlotrtMaskSource, "slotrt_mask_source", MaskSource {
    Decoder <=> MaskSource::Decoder,
    Attention <=> MaskSource::Attention,
    Model <=> MaskSource::Model,
});

/// The mask source that serves what a model segments with.
pub(crate) fn mask_kind_to_c(kind: MaskKind) -> u32 {
    SlotrtMaskSource::raw(match kind {
        MaskKind::Decoder => MaskSource::Decoder,
        MaskKind::Attention => MaskSource::Attention,
    })
}

// One way only: a custom guided filter has no C value.
c_enum!(SlotrtMaskRefinement, "slotrt_mask_refinement", MaskRefinement {
    Model <=> MaskRefinement::Model,
    Off <=> MaskRefinement::Off,
    GuidedFilter <=> MaskRefinement::GuidedFilter,
});

/// Model parts as bit positions; what each bit turns on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum PartBit {
    Encoder,
    Grouping,
    Predictor,
    Decoder,
}

c_enum!(both_ways SlotrtPart, "slotrt_part", PartBit {
    Encoder <=> PartBit::Encoder,
    Grouping <=> PartBit::Grouping,
    Predictor <=> PartBit::Predictor,
    Decoder <=> PartBit::Decoder,
});

c_enum!(both_ways SlotrtShape, "slotrt_shape", ShapeKind {
    Disc <=> ShapeKind::Disc,
    Square <=> ShapeKind::Square,
    Triangle <=> ShapeKind::Triangle,
    Ellipse <=> ShapeKind::Ellipse,
    Star <=> ShapeKind::Star,
    Cross <=> ShapeKind::Cross,
});

c_enum!(both_ways SlotrtBackground, "slotrt_background", BackgroundKind {
    Plain <=> BackgroundKind::Plain,
    Gradient <=> BackgroundKind::Gradient,
    Textured <=> BackgroundKind::Textured,
});

c_enum!(both_ways SlotrtMotion, "slotrt_motion", MotionKind {
    Static <=> MotionKind::Static,
    Bounce <=> MotionKind::Bounce,
    Crossing <=> MotionKind::Crossing,
});

c_enum!(both_ways SlotrtSplit, "slotrt_split", Split {
    Train <=> Split::Train,
    Validation <=> Split::Validation,
    Test <=> Split::Test,
});

/// The Rust values of the C enum values set in `bits` (bit i is value i),
/// or UNKNOWN_ENUM naming `field` for a bit no value has.
pub(crate) fn bits_to_values<C: Copy, T>(
    bits: u32,
    all: &[C],
    to_rust: fn(C) -> T,
    field: &str,
    type_name: &str,
) -> CallResult<Vec<T>> {
    let known = (1u32 << all.len()) - 1;
    if bits & !known != 0 {
        return Err(unknown_enum(field, format!("{bits:#x}"), &format!("bit set of {type_name}")));
    }
    Ok(all.iter().enumerate().filter(|(i, _)| bits & (1 << i) != 0).map(|(_, c)| to_rust(*c)).collect())
}

/// The bit set (bit i for C value i) of the Rust values `values`.
pub(crate) fn values_to_bits<C: Copy, T: PartialEq>(values: &[T], all: &[C], to_rust: fn(C) -> T) -> u32 {
    all.iter().enumerate().filter(|(_, c)| values.contains(&to_rust(**c))).map(|(i, _)| 1u32 << i).sum()
}
