//! `SlotModel`: encoder -> Slot Attention (init = carried slots) -> masks,
//! plus the predictor that carries slots to the next frame and the decoder
//! that gives the training signal and decoder masks.

use tch::nn;
use tch::{Device, Kind, Tensor};

use super::config::{MaskKind, ModelConfig};
use super::decoder::{Decoded, Decoder};
use super::dias;
use super::encoder::{Encoded, Encoder};
use super::grouping::{InitInput, SlotAttention, SlotInit};
use super::layers::TransformerBlock;
use super::layout::Layout;
use super::precision::Precision;
use super::refine::{GuidedFilter, RefineConfig};
use crate::error::{Error, Result};

/// Everything one frame step produces.
#[derive(Debug)]
pub struct StepOutput {
    /// Backbone features [B, N, C] (the target of feature decoders).
    pub features: Tensor,
    /// Corrected slots [B, K, D].
    pub slots: Tensor,
    /// Last-iteration attention reshaped to the token grid [B, K, h, w].
    pub attention_masks: Tensor,
    /// Attention of every iteration [B, K, N] (for the DIAS losses).
    pub attention: Vec<Tensor>,
    /// Init for the next frame [B, K, D]: predictor(slots), or slots when
    /// the model has no predictor.
    pub next_init: Tensor,
    /// Which slots hold an object [B, K] (bool); all true without DIAS.
    pub active: Tensor,
    /// Decoder masks [B, K, h', w'], from `step_decoded` only (the decoder
    /// is not needed for slots and costs more than the rest at inference).
    pub decoder_masks: Option<Tensor>,
    /// Decoder reconstruction, from `step_decoded` only.
    pub reconstruction: Option<Tensor>,
}

/// A slot model built from a config. Its variables live in `vs`; loading a
/// bundle fills them (see `bundle`).
#[derive(Debug)]
pub struct SlotModel {
    pub config: ModelConfig,
    pub vs: nn::VarStore,
    encoder: Encoder,
    grouping: SlotAttention,
    init: SlotInit,
    predictor: Option<TransformerBlock>,
    decoder: Decoder,
    precision: Precision,
    layout: Layout,
}

impl SlotModel {
    /// Builds the model with freshly initialised weights.
    pub fn new(config: &ModelConfig, device: Device) -> Result<Self> {
        Self::with_base_dir(config, device, None)
    }

    /// As `new`; files the config names (a TorchScript encoder) are
    /// resolved against `base_dir`, the bundle's directory.
    pub fn with_base_dir(config: &ModelConfig, device: Device, base_dir: Option<&std::path::Path>) -> Result<Self> {
        config.validate()?;
        let vs = nn::VarStore::new(device);
        let root = vs.root();
        let encoder = Encoder::new(&root / "encoder", config, base_dir)?;
        let g = &config.grouping;
        let grouping = SlotAttention::new(&root / "grouping", g, encoder.token_dim());
        let init = SlotInit::new(&root / "init", &config.init, g.num_slots, g.slot_dim);
        let predictor = config
            .predictor
            .as_ref()
            .map(|pr| TransformerBlock::new(&root / "predictor", g.slot_dim, pr.heads, pr.ff_dim, pr.pre_norm));
        let decoder =
            Decoder::new(&root / "decoder", &config.decoder, g.slot_dim, encoder.grid(), encoder.feature_dim());
        Ok(SlotModel {
            config: config.clone(),
            vs,
            encoder,
            grouping,
            init,
            predictor,
            decoder,
            precision: Precision::Fp32,
            layout: Layout::Nchw,
        })
    }

    pub fn num_slots(&self) -> i64 {
        self.config.grouping.num_slots
    }

    pub fn slot_dim(&self) -> i64 {
        self.config.grouping.slot_dim
    }

    /// Token grid of the attention masks (h, w).
    pub fn mask_grid(&self) -> (i64, i64) {
        self.encoder.grid()
    }

    pub fn device(&self) -> Device {
        self.vs.device()
    }

    pub fn precision(&self) -> Precision {
        self.precision
    }

    /// Runs the CNN encoder's convolutions in `precision` by casting their
    /// weights in place; everything else stays fp32 (see `model::precision`
    /// for why). For inference: train in fp32. A reduced precision on a
    /// model without a CNN encoder is `Unsupported`; `precision` is resolved
    /// here (`Precision::resolve`: `Auto` by the hardware, fp16 CPU-refused).
    pub fn set_precision(&mut self, precision: Precision) -> Result<()> {
        let precision = precision.resolve(self.device())?;
        if precision != Precision::Fp32 && !self.encoder.has_conv_stack() {
            return Err(Error::Unsupported(format!(
                "{} applies to CNN encoders' convolutions; this model's encoder is not a CNN",
                precision.name()
            )));
        }
        if self.encoder.has_conv_stack() {
            (&self.vs.root() / "encoder" / "convs").set_kind(precision.kind());
        }
        self.precision = precision;
        Ok(())
    }

    pub fn layout(&self) -> Layout {
        self.layout
    }

    /// Lays the CNN encoder's convolutions out as `layout` (resolved here,
    /// `Auto` by the CPU; see `model::layout`). Channels-last on a model
    /// without a CNN encoder is `Unsupported`; `Auto` there is NCHW.
    pub fn set_layout(&mut self, layout: Layout) -> Result<()> {
        let cnn = self.encoder.has_conv_stack();
        let resolved = match layout.resolve(self.device()) {
            Layout::ChannelsLast if !cnn && layout == Layout::Auto => Layout::Nchw,
            Layout::ChannelsLast if !cnn => {
                return Err(Error::Unsupported(
                    "channels_last applies to CNN encoders' convolutions; this model's encoder is not a CNN".into(),
                ))
            }
            resolved => resolved,
        };
        self.encoder.set_channels_last(resolved == Layout::ChannelsLast);
        self.layout = resolved;
        Ok(())
    }

    /// Maps pixels scaled to [0, 1], [B, 3, H, W], to the model's input.
    pub fn normalize(&self, images01: &Tensor) -> Tensor {
        let p = &self.config.preprocess;
        let opts = (Kind::Float, images01.device());
        let mean = Tensor::from_slice(&p.mean).to_kind(Kind::Float).to_device(opts.1).view([1, 3, 1, 1]);
        let std = Tensor::from_slice(&p.std).to_kind(Kind::Float).to_device(opts.1).view([1, 3, 1, 1]);
        (images01 - mean) / std
    }

    /// The inverse of `normalize`: model input back to images in [0, 1].
    pub fn denormalize(&self, images: &Tensor) -> Tensor {
        let p = &self.config.preprocess;
        let device = images.device();
        let mean = Tensor::from_slice(&p.mean).to_kind(Kind::Float).to_device(device).view([1, 3, 1, 1]);
        let std = Tensor::from_slice(&p.std).to_kind(Kind::Float).to_device(device).view([1, 3, 1, 1]);
        images * std + mean
    }

    /// The mask refinement this model's config asks for, if any.
    pub fn refine_filter(&self) -> Option<GuidedFilter> {
        self.config.refine.map(|RefineConfig::GuidedFilter(f)| f)
    }

    /// Soft masks [B, K, h, w] at the input's resolution: refined by
    /// `filter`, guided by the normalised input `images` [B, 3, H, W], or
    /// upsampled bilinearly without one.
    pub fn masks_at_input(&self, masks: &Tensor, images: &Tensor, filter: Option<&GuidedFilter>) -> Result<Tensor> {
        let (h, w) = (images.size()[2], images.size()[3]);
        match filter {
            Some(f) => f.apply(&self.denormalize(images), masks),
            None if masks.size()[2..] == [h, w] => Ok(masks.shallow_clone()),
            None => Ok(masks.f_upsample_bilinear2d([h, w], false, None, None)?),
        }
    }

    /// Whether `init_slots` needs noise (Gaussian init) or is deterministic.
    pub fn init_needs_noise(&self) -> bool {
        self.init.needs_noise()
    }

    /// First-frame slots [B, K, D] from noise (Gaussian init), boxes
    /// (conditional init) or nothing (learned queries).
    pub fn init_slots(&self, batch: i64, input: InitInput) -> Result<Tensor> {
        self.init.slots(batch, self.num_slots(), input)
    }

    /// Backbone features and grouping tokens of normalised images.
    pub fn encode(&self, images: &Tensor) -> Result<Encoded> {
        self.encoder.forward(images)
    }

    /// One frame: group `images` (normalised, [B, 3, H, W]) starting from
    /// `init` [B, K, D]; `first_frame` selects iters_first vs iters_later.
    pub fn step(&self, images: &Tensor, init: &Tensor, first_frame: bool) -> Result<StepOutput> {
        let Encoded { features, tokens } = self.encode(images)?;
        let g = &self.config.grouping;
        let iterations = if first_frame { g.iters_first } else { g.iters_later };
        let mut grouped = self.grouping.forward(&tokens, init, iterations, None);
        let (h, w) = self.mask_grid();
        let (b, k, _) = grouped.slots.size3().expect("slots [B, K, D]");
        let active = match &self.config.dias {
            None => Tensor::ones([b, k], (Kind::Bool, self.device())),
            Some(dias) => {
                let last = grouped.attention.last().expect("at least one iteration");
                let active = dias::active_slots(&grouped.slots, last, dias);
                let again = self.grouping.forward(&tokens, &grouped.slots, 1, Some(&active));
                grouped.slots = grouped.slots.where_self(&active.logical_not().unsqueeze(-1), &again.slots);
                grouped.attention.extend(again.attention);
                active
            }
        };
        let last = grouped.attention.last().expect("at least one iteration");
        let next_init = match &self.predictor {
            Some(p) => p.forward(&grouped.slots),
            None => grouped.slots.shallow_clone(),
        };
        Ok(StepOutput {
            features,
            attention_masks: last.reshape([b, k, h, w]),
            slots: grouped.slots,
            attention: grouped.attention,
            next_init,
            active,
            decoder_masks: None,
            reconstruction: None,
        })
    }

    /// `step` plus the decoder's masks and reconstruction.
    pub fn step_decoded(&self, images: &Tensor, init: &Tensor, first_frame: bool) -> Result<StepOutput> {
        let mut out = self.step(images, init, first_frame)?;
        let decoded = self.decode(&out.slots);
        out.decoder_masks = Some(decoded.masks);
        out.reconstruction = Some(decoded.reconstruction);
        Ok(out)
    }

    /// Decoder reconstruction and alpha masks of slots [B, K, D].
    pub fn decode(&self, slots: &Tensor) -> Decoded {
        self.decoder.forward(slots)
    }

    /// The soft masks [B, K, h, w] this model segments with (its config's
    /// `masks`), upsampled bilinearly to `size` (height, width) when given;
    /// `decoded` reuses a decoder pass already made.
    pub fn own_masks(&self, out: &StepOutput, decoded: Option<&Decoded>, size: Option<(i64, i64)>) -> Tensor {
        let masks = match (self.config.masks, decoded) {
            (MaskKind::Attention, _) => out.attention_masks.shallow_clone(),
            (MaskKind::Decoder, Some(d)) => d.masks.shallow_clone(),
            (MaskKind::Decoder, None) => self.decode(&out.slots).masks,
        };
        match size {
            Some((h, w)) if masks.size()[2..] != [h, w] => masks.upsample_bilinear2d([h, w], false, None, None),
            _ => masks,
        }
    }

    /// The predictor alone (identity without one).
    pub fn predict(&self, slots: &Tensor) -> Tensor {
        match &self.predictor {
            Some(p) => p.forward(slots),
            None => slots.shallow_clone(),
        }
    }
}
