//! Model configuration: one serde struct per component, stored as JSON in
//! the bundle's metadata. Unknown fields and unknown variants are errors, so
//! a bundle written by a newer slotrt is refused instead of misread.

use serde::{Deserialize, Serialize};

use super::limits::*;
use crate::error::{Error, Result};
use crate::model::refine::RefineConfig;

/// Version of the bundle format this build reads and writes.
pub const FORMAT_VERSION: u32 = 1;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelConfig {
    pub format_version: u32,
    /// Free text for people: what the model is, how it was made.
    #[serde(default)]
    pub description: String,
    pub preprocess: PreprocessConfig,
    pub encoder: EncoderConfig,
    pub grouping: SlotAttentionConfig,
    pub init: SlotInitConfig,
    /// Carries slots to the next frame (SAVi / VideoSAUR); absent for image
    /// models, whose next-frame init is the corrected slots themselves.
    #[serde(default)]
    pub predictor: Option<PredictorConfig>,
    pub decoder: DecoderConfig,
    /// DIAS redundancy reduction + re-initialised aggregation; absent = off.
    #[serde(default)]
    pub dias: Option<DiasConfig>,
    /// The masks this model segments with: what `slotrt eval` scores, what
    /// the guided loss trains, and what sessions serve unless told
    /// otherwise.
    #[serde(default, skip_serializing_if = "MaskKind::is_decoder")]
    pub masks: MaskKind,
    /// How sessions refine the masks they serve (and `slotrt eval` scores)
    /// at the input's resolution; absent = bilinear upsampling only.
    /// Training never sees it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refine: Option<RefineConfig>,
}

/// Decoder alpha masks or Slot Attention's last-iteration attention.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MaskKind {
    #[default]
    Decoder,
    /// Attention over the token grid: follows the encoder's features, so it
    /// draws shapes a small broadcast decoder rounds into blobs.
    Attention,
}

impl MaskKind {
    fn is_decoder(&self) -> bool {
        *self == MaskKind::Decoder
    }
}

/// DIAS: after grouping, slots whose attention area is below
/// `area_threshold` (fraction of tokens) or whose vector is a near-duplicate
/// (cosine similarity above `duplicate_threshold`) of an earlier active slot
/// become inactive; one more aggregation then runs over the active slots
/// only. The paper's exact rule is unverified; both thresholds are fields.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DiasConfig {
    pub area_threshold: f64,
    pub duplicate_threshold: f64,
}

/// How frames become the model's input tensor.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PreprocessConfig {
    /// Model input size in pixels.
    pub height: i64,
    pub width: i64,
    /// Per-channel mean and std applied after scaling to [0, 1]:
    /// x = (pixel / 255 - mean) / std. [-1, 1] scaling is mean 0.5, std 0.5.
    pub mean: [f64; 3],
    pub std: [f64; 3],
    /// How the runtime resizes frames to height x width.
    #[serde(default)]
    pub resize: ResizeMode,
    /// Channel order the model was trained on; frames are converted to it.
    #[serde(default)]
    pub channel_order: ChannelOrder,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ResizeMode {
    #[default]
    Bilinear,
    Nearest,
    /// Average over the source pixels (for downscaling).
    Area,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChannelOrder {
    #[default]
    Rgb,
    Bgr,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum EncoderConfig {
    /// Conv stack + position grid + LayerNorm + MLP (Slot Attention, SAVi).
    Cnn(CnnEncoderConfig),
    /// A frozen TorchScript backbone in a file beside the bundle (images
    /// [B, 3, H, W] -> tokens [B, N, C]), pinned by SHA-256, then an
    /// optional trainable projection.
    TorchScript(TorchScriptEncoderConfig),
    /// A frozen ViT (DINO / DINOv2 layout and weight names), then an
    /// optional trainable projection.
    Vit(VitEncoderConfig),
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VitEncoderConfig {
    /// Patch size (8, 14, 16); input height and width must be multiples.
    pub patch_size: i64,
    pub dim: i64,
    pub depth: i64,
    pub heads: i64,
    /// MLP hidden width = dim * mlp_ratio.
    #[serde(default = "four")]
    pub mlp_ratio: f64,
    /// DINOv2 register tokens (dropped from the output).
    #[serde(default)]
    pub registers: i64,
    /// DINOv2 LayerScale (ls1.gamma, ls2.gamma).
    #[serde(default)]
    pub layer_scale: bool,
    #[serde(default = "vit_eps")]
    pub layer_norm_eps: f64,
    #[serde(default)]
    pub projection: Option<ProjectionConfig>,
}

fn four() -> f64 {
    4.0
}

fn vit_eps() -> f64 {
    1e-6
}

impl VitEncoderConfig {
    pub fn mlp_hidden(&self) -> i64 {
        (self.dim as f64 * self.mlp_ratio).round() as i64
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TorchScriptEncoderConfig {
    /// Path of the TorchScript file, relative to the bundle's directory.
    pub file: String,
    /// Lower-case hex SHA-256 of that file.
    pub sha256: String,
    /// Channels C of the tokens the backbone returns.
    pub feature_dim: i64,
    /// Token grid; N = grid_height * grid_width.
    pub grid_height: i64,
    pub grid_width: i64,
    #[serde(default)]
    pub projection: Option<ProjectionConfig>,
}

/// LN -> Linear -> ReLU -> Linear after a backbone (DINOSAUR).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProjectionConfig {
    pub hidden: i64,
    pub output_dim: i64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CnnEncoderConfig {
    /// Output channels of each conv layer (ReLU after each).
    pub channels: Vec<i64>,
    /// Kernel size of each conv layer (odd; padding keeps the size).
    pub kernel_sizes: Vec<i64>,
    /// Stride of each conv layer.
    pub strides: Vec<i64>,
}

/// Slot Attention with the switches real checkpoints differ on
/// (`../shared/MODELS.md` section 2).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlotAttentionConfig {
    pub num_slots: i64,
    pub slot_dim: i64,
    /// Grouping iterations on a stream's first frame.
    pub iters_first: i64,
    /// Iterations on later frames, where the carried slots are a good start.
    pub iters_later: i64,
    pub renormalization: Renormalization,
    pub eps: f64,
    #[serde(default)]
    pub qkv_bias: bool,
    /// GRU hidden state is LayerNorm'd slots (VideoSAUR) instead of raw slots.
    #[serde(default)]
    pub gru_hidden_normalized: bool,
    /// Hidden width of the residual MLP after the GRU; None = no MLP block.
    pub mlp_hidden: Option<i64>,
    /// Attention heads; softmax runs jointly over slots x heads.
    #[serde(default = "one")]
    pub heads: i64,
}

fn one() -> i64 {
    1
}

/// How attention over slots is renormalised over tokens.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Renormalization {
    /// (A + eps) / Σ_n (A + eps): official Slot Attention, OCL, VideoSAUR.
    EpsInside,
    /// A / (Σ_n A + eps): SAVi, DIAS, BO-QSA.
    EpsOutside,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum SlotInitConfig {
    /// S0 = mu + exp(log_sigma) * noise; the noise comes from a seed.
    Gaussian,
    /// S0 = Q, a learned [K, D] table (QSA / BO-QSA): deterministic.
    LearnedQueries,
    /// S0 = MLP(box) per slot (SAVi conditional): boxes [B, K, 4] as
    /// (y_min, x_min, y_max, x_max) in [0, 1]; a zero box for the
    /// background and unused slots.
    Conditional { hidden: i64 },
}

/// One transformer block over the K slots.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PredictorConfig {
    pub heads: i64,
    pub ff_dim: i64,
    /// Pre-LN (VideoSAUR) or post-LN (SAVi).
    pub pre_norm: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum DecoderConfig {
    /// Each slot broadcast over a grid + position, conv-transposed up to the
    /// input size, giving RGB + alpha; alpha softmax over slots.
    SpatialBroadcast(SpatialBroadcastConfig),
    /// Spatial broadcast with a per-position MLP instead of convolutions:
    /// each slot + position embedding -> RGB + alpha at every pixel.
    BroadcastMlp(BroadcastMlpConfig),
    /// DINOSAUR: each slot broadcast to every token position (+ a learned
    /// position embedding), an MLP gives encoder features + alpha; alpha
    /// softmax over slots. Reconstructs the (detached) encoder tokens.
    MlpPatch(MlpPatchConfig),
    /// Cross-attention from learned per-token queries to the slots (plus
    /// CODA register slots); masks are the attention over the slots.
    /// Reconstructs the (detached) encoder tokens.
    Transformer(TransformerDecoderConfig),
}

/// What a decoder reconstructs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DecoderTarget {
    /// Pixels [B, 3, H', W'] in the model's normalised space.
    Pixels,
    /// Encoder tokens [B, N, C].
    Features,
}

impl DecoderConfig {
    pub fn target(&self) -> DecoderTarget {
        match self {
            DecoderConfig::SpatialBroadcast(_) | DecoderConfig::BroadcastMlp(_) => DecoderTarget::Pixels,
            DecoderConfig::MlpPatch(_) | DecoderConfig::Transformer(_) => DecoderTarget::Features,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BroadcastMlpConfig {
    /// Output grid (the input size divided by one integer factor).
    pub height: i64,
    pub width: i64,
    pub hidden: i64,
    /// Number of Linear layers (ReLU between them), at least 2.
    pub layers: i64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MlpPatchConfig {
    /// Hidden width of the MLP.
    pub hidden: i64,
    /// Number of Linear layers (ReLU between them), at least 2.
    pub layers: i64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TransformerDecoderConfig {
    /// Width of the decoder's queries and attention.
    pub dim: i64,
    pub heads: i64,
    pub ff_dim: i64,
    /// CODA register slots: learned, input-independent tokens appended
    /// after the slots, which absorb attention that belongs to no object.
    #[serde(default)]
    pub registers: i64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpatialBroadcastConfig {
    /// Grid the slots are broadcast to.
    pub broadcast_height: i64,
    pub broadcast_width: i64,
    /// Channels of each hidden layer; each is a 5x5 transposed conv that
    /// doubles the size (stride 2) or keeps it (stride 1).
    pub channels: Vec<i64>,
    pub strides: Vec<i64>,
}

fn check(ok: bool, msg: impl FnOnce() -> String) -> Result<()> {
    if ok {
        Ok(())
    } else {
        Err(Error::BadModel(format!("config: {}", msg())))
    }
}

/// A pixel decoder's output must be the input divided by one integer factor.
fn check_pixel_output((oh, ow): (i64, i64), (h, w): (i64, i64)) -> Result<()> {
    check(oh > 0 && ow > 0 && h % oh == 0 && w % ow == 0 && h / oh == w / ow, || {
        format!("decoder output {:?} must be the input size {:?} divided by one integer factor", (oh, ow), (h, w))
    })
}

impl CnnEncoderConfig {
    /// Token grid produced for an input of the given size.
    pub fn token_grid(&self, height: i64, width: i64) -> (i64, i64) {
        self.strides.iter().zip(&self.kernel_sizes).fold((height, width), |(h, w), (&s, &k)| {
            let out = |n: i64| (n + 2 * (k / 2) - k) / s + 1;
            (out(h), out(w))
        })
    }

    pub fn feature_dim(&self) -> i64 {
        *self.channels.last().unwrap_or(&0)
    }
}

impl SpatialBroadcastConfig {
    pub fn output_size(&self) -> (i64, i64) {
        self.strides.iter().fold((self.broadcast_height, self.broadcast_width), |(h, w), &s| (h * s, w * s))
    }
}

impl ModelConfig {
    /// How much smaller the decoder's output is than the input (1 = same
    /// size). Reconstruction targets are average-pooled by this factor.
    /// Pixel decoders only; feature decoders work at the token grid.
    pub fn decoder_downscale(&self) -> i64 {
        match &self.decoder {
            DecoderConfig::SpatialBroadcast(sb) => self.preprocess.height / sb.output_size().0,
            DecoderConfig::BroadcastMlp(m) => self.preprocess.height / m.height,
            _ => 1,
        }
    }

    /// Checks ranges and cross-component consistency; errors name the field.
    pub fn validate(&self) -> Result<()> {
        check(self.format_version == FORMAT_VERSION, || {
            format!(
                "format_version {} is not supported (this build reads version {FORMAT_VERSION})",
                self.format_version
            )
        })?;
        let p = &self.preprocess;
        check_in(p.height, 1, MAX_SIZE, "preprocess.height")?;
        check_in(p.width, 1, MAX_SIZE, "preprocess.width")?;
        check(p.std.iter().all(|s| (1e-6..=1e6).contains(s)) && p.mean.iter().all(|m| m.abs() <= 1e6), || {
            "preprocess.std must be in [1e-6, 1e6] and mean within +-1e6".into()
        })?;
        match &self.encoder {
            EncoderConfig::Cnn(cnn) => {
                let layers = cnn.channels.len();
                check(layers > 0, || "encoder.channels is empty".into())?;
                check_layers(layers, "encoder.channels")?;
                check(cnn.kernel_sizes.len() == layers && cnn.strides.len() == layers, || {
                    format!(
                        "encoder.channels, kernel_sizes and strides must have the same length ({}, {}, {})",
                        layers,
                        cnn.kernel_sizes.len(),
                        cnn.strides.len()
                    )
                })?;
                for (i, ((&c, &k), &s)) in cnn.channels.iter().zip(&cnn.kernel_sizes).zip(&cnn.strides).enumerate() {
                    check_in(c, 1, MAX_WIDTH, &format!("encoder.channels[{i}]"))?;
                    check(k > 0 && k % 2 == 1 && k <= MAX_KERNEL, || {
                        format!("encoder.kernel_sizes[{i}] must be odd and in 1..={MAX_KERNEL}, got {k}")
                    })?;
                    check(s == 1 || s == 2, || format!("encoder.strides[{i}] must be 1 or 2, got {s}"))?;
                }
            }
            EncoderConfig::Vit(v) => {
                check_in(v.patch_size, 1, MAX_KERNEL, "encoder.patch_size")?;
                check(p.height % v.patch_size == 0 && p.width % v.patch_size == 0, || {
                    format!("input {}x{} is not a multiple of encoder.patch_size {}", p.width, p.height, v.patch_size)
                })?;
                check_in(v.dim, 1, MAX_WIDTH, "encoder.dim")?;
                check_in(v.depth, 1, MAX_LAYERS as i64, "encoder.depth")?;
                check_in(v.heads, 1, MAX_HEADS, "encoder.heads")?;
                check(v.dim % v.heads == 0, || {
                    format!("encoder.dim {} is not divisible by encoder.heads {}", v.dim, v.heads)
                })?;
                check(
                    v.mlp_ratio > 0.0 && v.mlp_ratio <= 16.0 && v.layer_norm_eps > 0.0 && v.layer_norm_eps.is_finite(),
                    || "encoder.mlp_ratio must be in (0, 16] and layer_norm_eps positive".into(),
                )?;
                check_in(v.registers, 0, MAX_REGISTERS, "encoder.registers")?;
                if let Some(pr) = &v.projection {
                    check_in(pr.hidden, 1, MAX_WIDTH, "encoder.projection.hidden")?;
                    check_in(pr.output_dim, 1, MAX_WIDTH, "encoder.projection.output_dim")?;
                }
            }
            EncoderConfig::TorchScript(ts) => {
                check(!ts.file.is_empty(), || "encoder.file is empty".into())?;
                check(ts.sha256.len() == 64 && ts.sha256.chars().all(|c| c.is_ascii_hexdigit()), || {
                    format!("encoder.sha256 must be 64 hex digits, got '{}'", ts.sha256)
                })?;
                check_in(ts.feature_dim, 1, MAX_WIDTH, "encoder.feature_dim")?;
                check_in(ts.grid_height, 1, MAX_SIZE, "encoder.grid_height")?;
                check_in(ts.grid_width, 1, MAX_SIZE, "encoder.grid_width")?;
                if let Some(pr) = &ts.projection {
                    check_in(pr.hidden, 1, MAX_WIDTH, "encoder.projection.hidden")?;
                    check_in(pr.output_dim, 1, MAX_WIDTH, "encoder.projection.output_dim")?;
                }
            }
        }
        if let Some(RefineConfig::GuidedFilter(f)) = &self.refine {
            f.validate(p.height, p.width)?;
        }
        let g = &self.grouping;
        check_in(g.num_slots, 1, MAX_SLOTS, "grouping.num_slots")?;
        check_in(g.slot_dim, 1, MAX_WIDTH, "grouping.slot_dim")?;
        check_in(g.iters_first, 1, MAX_ITERATIONS, "grouping.iters_first")?;
        check_in(g.iters_later, 1, MAX_ITERATIONS, "grouping.iters_later")?;
        check_in(g.heads, 1, MAX_HEADS, "grouping.heads")?;
        check(g.slot_dim % g.heads == 0, || {
            format!("grouping.slot_dim {} is not divisible by grouping.heads {}", g.slot_dim, g.heads)
        })?;
        check(g.eps > 0.0 && g.eps <= 1.0, || format!("grouping.eps must be in (0, 1], got {}", g.eps))?;
        if let Some(h) = g.mlp_hidden {
            check_in(h, 1, MAX_WIDTH, "grouping.mlp_hidden")?;
        }
        if let SlotInitConfig::Conditional { hidden } = self.init {
            check_in(hidden, 1, MAX_WIDTH, "init.hidden")?;
        }
        if let Some(d) = &self.dias {
            check((0.0..1.0).contains(&d.area_threshold), || {
                format!("dias.area_threshold must be in [0, 1), got {}", d.area_threshold)
            })?;
            check((-1.0..=1.0).contains(&d.duplicate_threshold), || {
                format!("dias.duplicate_threshold must be in [-1, 1], got {}", d.duplicate_threshold)
            })?;
        }
        if let Some(pr) = &self.predictor {
            check_in(pr.heads, 1, MAX_HEADS, "predictor.heads")?;
            check_in(pr.ff_dim, 1, MAX_WIDTH, "predictor.ff_dim")?;
            check(g.slot_dim % pr.heads == 0, || {
                format!("grouping.slot_dim {} is not divisible by predictor.heads {}", g.slot_dim, pr.heads)
            })?;
        }
        match &self.decoder {
            DecoderConfig::SpatialBroadcast(sb) => {
                check_in(sb.broadcast_height, 1, MAX_SIZE, "decoder.broadcast_height")?;
                check_in(sb.broadcast_width, 1, MAX_SIZE, "decoder.broadcast_width")?;
                check(sb.channels.len() == sb.strides.len() && !sb.channels.is_empty(), || {
                    "decoder.channels and decoder.strides must be non-empty and of equal length".into()
                })?;
                check_layers(sb.channels.len(), "decoder.channels")?;
                for (i, (&c, &s)) in sb.channels.iter().zip(&sb.strides).enumerate() {
                    check_in(c, 1, MAX_WIDTH, &format!("decoder.channels[{i}]"))?;
                    check(s == 1 || s == 2, || format!("decoder.strides[{i}] must be 1 or 2, got {s}"))?;
                }
                check_pixel_output(sb.output_size(), (p.height, p.width))?;
            }
            DecoderConfig::BroadcastMlp(m) => {
                check_in(m.height, 1, MAX_SIZE, "decoder.height")?;
                check_in(m.width, 1, MAX_SIZE, "decoder.width")?;
                check_in(m.hidden, 1, MAX_WIDTH, "decoder.hidden")?;
                check_in(m.layers, 2, MAX_LAYERS as i64, "decoder.layers")?;
                check_pixel_output((m.height, m.width), (p.height, p.width))?;
            }
            DecoderConfig::MlpPatch(m) => {
                check_in(m.hidden, 1, MAX_WIDTH, "decoder.hidden")?;
                check_in(m.layers, 2, MAX_LAYERS as i64, "decoder.layers")?;
            }
            DecoderConfig::Transformer(t) => {
                check_in(t.dim, 1, MAX_WIDTH, "decoder.dim")?;
                check_in(t.heads, 1, MAX_HEADS, "decoder.heads")?;
                check_in(t.ff_dim, 1, MAX_WIDTH, "decoder.ff_dim")?;
                check_in(t.registers, 0, MAX_REGISTERS, "decoder.registers")?;
                check(t.dim % t.heads == 0, || {
                    format!("decoder.dim {} is not divisible by decoder.heads {}", t.dim, t.heads)
                })?;
            }
        }
        Ok(())
    }

    /// Parses and validates the JSON stored in a bundle.
    pub fn from_json(json: &str) -> Result<Self> {
        let config: ModelConfig = serde_json::from_str(json).map_err(|e| Error::BadModel(format!("config: {e}")))?;
        config.validate()?;
        Ok(config)
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("config serialises")
    }

    /// A small SAVi-style video model for 64x64 frames.
    pub fn savi_small_64() -> Self {
        ModelConfig {
            format_version: FORMAT_VERSION,
            description: String::new(),
            preprocess: PreprocessConfig {
                height: 64,
                width: 64,
                mean: [0.5; 3],
                std: [0.5; 3],
                resize: ResizeMode::Bilinear,
                channel_order: ChannelOrder::Rgb,
            },
            encoder: EncoderConfig::Cnn(CnnEncoderConfig {
                channels: vec![64; 4],
                kernel_sizes: vec![5; 4],
                strides: vec![1, 1, 1, 1],
            }),
            grouping: SlotAttentionConfig {
                num_slots: 6,
                slot_dim: 64,
                iters_first: 3,
                iters_later: 1,
                renormalization: Renormalization::EpsInside,
                eps: 1e-8,
                qkv_bias: false,
                gru_hidden_normalized: false,
                mlp_hidden: Some(128),
                heads: 1,
            },
            init: SlotInitConfig::Gaussian,
            predictor: Some(PredictorConfig { heads: 4, ff_dim: 128, pre_norm: false }),
            decoder: DecoderConfig::SpatialBroadcast(SpatialBroadcastConfig {
                broadcast_height: 8,
                broadcast_width: 8,
                channels: vec![64, 64, 64],
                strides: vec![2, 2, 2],
            }),
            dias: None,
            masks: MaskKind::Decoder,
            refine: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_config_round_trips_through_json() {
        let c = ModelConfig::savi_small_64();
        c.validate().unwrap();
        assert_eq!(ModelConfig::from_json(&c.to_json()).unwrap(), c);
        assert_eq!(c.decoder_downscale(), 1);
    }

    #[test]
    fn decoder_may_work_at_an_integer_fraction_of_the_input() {
        let mut c = ModelConfig::savi_small_64();
        let DecoderConfig::SpatialBroadcast(sb) = &mut c.decoder else { unreachable!() };
        sb.strides = vec![2, 2, 1];
        c.validate().unwrap();
        assert_eq!(c.decoder_downscale(), 2);
        let DecoderConfig::SpatialBroadcast(sb) = &mut c.decoder else { unreachable!() };
        sb.broadcast_height = 6; // 24 x 32: not one factor of 64 x 64
        let err = c.validate().unwrap_err().to_string();
        assert!(err.contains("decoder output"), "{err}");
    }

    #[test]
    fn validation_names_the_field() {
        let mut c = ModelConfig::savi_small_64();
        c.grouping.heads = 3;
        assert!(c.validate().unwrap_err().to_string().contains("grouping.heads"));
        let mut c = ModelConfig::savi_small_64();
        let EncoderConfig::Cnn(cnn) = &mut c.encoder else { unreachable!() };
        cnn.kernel_sizes[2] = 4;
        assert!(c.validate().unwrap_err().to_string().contains("encoder.kernel_sizes[2]"));
    }
}
