//! A loaded, immutable model that any number of sessions and threads share.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use tch::Device;

use crate::error::{Error, Result};
use crate::model::config::{MaskKind, ModelConfig, SlotInitConfig};
use crate::model::{bundle, Layout, Precision, SlotModel};

/// Options for loading a model.
#[derive(Clone, Debug)]
pub struct ModelOptions {
    pub device: Device,
    /// libtorch intra-op threads, 0..=MAX_THREADS; 0 leaves libtorch's
    /// setting alone. The pool is process-wide in libtorch, so the last load
    /// that sets it wins.
    pub threads: usize,
    /// Precision of the encoder convolutions (see `model::precision`);
    /// `Auto` is resolved at load and `ModelInfo::precision` says how.
    pub precision: Precision,
    /// Memory layout of the encoder convolutions (see `model::layout`);
    /// `Auto` is resolved at load and `ModelInfo::layout` says how.
    pub layout: Layout,
}

/// Upper bound of `ModelOptions::threads`: libtorch starts about two threads
/// per requested one, and a million would never return.
pub const MAX_THREADS: usize = 256;

impl Default for ModelOptions {
    fn default() -> Self {
        ModelOptions { device: Device::Cpu, threads: 0, precision: Precision::Fp32, layout: Layout::Auto }
    }
}

/// How a model starts an episode's slots.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InitKind {
    /// Gaussian noise (drawn from a per-stream seed).
    Gaussian,
    /// Learned queries: the same slots every episode.
    LearnedQueries,
    /// From first-frame boxes, one per slot (SAVi conditional).
    Conditional,
}

/// What callers need to size their buffers and feed frames.
#[derive(Clone, Debug, PartialEq)]
pub struct ModelInfo {
    pub num_slots: usize,
    pub slot_dim: usize,
    pub input_height: usize,
    pub input_width: usize,
    /// Decoder masks.
    pub mask_height: usize,
    pub mask_width: usize,
    /// Slot Attention's token grid (the attention mask source).
    pub attention_height: usize,
    pub attention_width: usize,
    pub has_predictor: bool,
    pub init: InitKind,
    pub format_version: u32,
    pub description: String,
    pub device: Device,
    /// The resolved precision (never `Auto`).
    pub precision: Precision,
    /// The resolved layout (never `Auto`).
    pub layout: Layout,
    /// The masks the model segments with (what `MaskSource::Model` serves).
    pub masks: MaskKind,
}

/// A slot model ready for inference.
///
/// Shared through `Arc` between sessions and their worker threads. Every
/// inference path only reads the weights (under `no_grad`), which libtorch
/// allows from many threads at once; nothing reachable from a
/// `&RuntimeModel` writes to them. Online fine-tuning publishes new weights
/// by swapping in a new `RuntimeModel`, never by writing into a shared one.
#[derive(Debug)]
pub struct RuntimeModel {
    model: SlotModel,
    info: ModelInfo,
    /// The bundle's directory (files a config names, e.g. a TorchScript
    /// encoder, are resolved against it when the model is rebuilt).
    base_dir: Option<PathBuf>,
}

// SAFETY: see the type's documentation: shared use is read-only inference,
// which libtorch supports concurrently; `tch::Tensor` is only `!Sync`
// because some of its methods mutate through `&self`, and none of those is
// reachable through this type's API.
unsafe impl Sync for RuntimeModel {}

impl RuntimeModel {
    /// Loads a bundle (strictly: any mismatch is `BadModel`).
    pub fn load(path: &Path, options: &ModelOptions) -> Result<Arc<Self>> {
        check_device(options.device)?;
        if options.threads > MAX_THREADS {
            return Err(Error::invalid(format!("threads is {}, must be in 0..={MAX_THREADS}", options.threads)));
        }
        if options.threads > 0 {
            tch::set_num_threads(options.threads as i32);
        }
        let mut loaded = bundle::load(path, options.device)?;
        loaded.set_precision(options.precision)?;
        loaded.set_layout(options.layout)?;
        let mut model = Self::from_model(loaded)?;
        Arc::get_mut(&mut model).expect("just made").base_dir = path.parent().map(Path::to_path_buf);
        Ok(model)
    }

    /// A new model on `like`'s device holding `weights`' current values
    /// (the same architecture): how fine-tuning publishes.
    pub fn copy_of(weights: &SlotModel, like: &RuntimeModel) -> Result<Arc<Self>> {
        let mut model = SlotModel::with_base_dir(like.config(), like.info.device, like.base_dir())?;
        tch::no_grad(|| model.vs.copy(&weights.vs))?;
        model.set_precision(like.info.precision)?;
        model.set_layout(like.info.layout)?;
        let mut out = Self::from_model(model)?;
        Arc::get_mut(&mut out).expect("just made").base_dir = like.base_dir.clone();
        Ok(out)
    }

    pub fn base_dir(&self) -> Option<&Path> {
        self.base_dir.as_deref()
    }

    /// Wraps a model built or trained in-process.
    pub fn from_model(model: SlotModel) -> Result<Arc<Self>> {
        let info = info_of(&model)?;
        if info.num_slots > 255 {
            return Err(Error::Unsupported(format!(
                "{} slots: label maps are 8-bit, so at most 255 slots are supported",
                info.num_slots
            )));
        }
        Ok(Arc::new(RuntimeModel { model, info, base_dir: None }))
    }

    pub fn info(&self) -> &ModelInfo {
        &self.info
    }

    pub fn config(&self) -> &ModelConfig {
        &self.model.config
    }

    /// The model itself, for read-only inference.
    pub fn slot_model(&self) -> &SlotModel {
        &self.model
    }
}

fn check_device(device: Device) -> Result<()> {
    if let Device::Cuda(index) = device {
        let count = crate::device::cuda_device_count();
        if index >= count {
            return Err(Error::DeviceUnavailable(format!("cuda:{index} requested, {count} CUDA devices available")));
        }
    }
    Ok(())
}

fn info_of(model: &SlotModel) -> Result<ModelInfo> {
    let c = &model.config;
    // The decoder's mask size is whatever it produces: ask it once.
    let (mask_height, mask_width) = tch::no_grad(|| -> Result<(i64, i64)> {
        let slots = tch::Tensor::zeros([1, model.num_slots(), model.slot_dim()], (tch::Kind::Float, model.device()));
        let (_, _, h, w) = model.decode(&slots).masks.size4()?;
        Ok((h, w))
    })?;
    let (ah, aw) = model.mask_grid();
    Ok(ModelInfo {
        num_slots: model.num_slots() as usize,
        slot_dim: model.slot_dim() as usize,
        input_height: c.preprocess.height as usize,
        input_width: c.preprocess.width as usize,
        mask_height: mask_height as usize,
        mask_width: mask_width as usize,
        attention_height: ah as usize,
        attention_width: aw as usize,
        has_predictor: c.predictor.is_some(),
        init: match c.init {
            SlotInitConfig::Gaussian => InitKind::Gaussian,
            SlotInitConfig::LearnedQueries => InitKind::LearnedQueries,
            SlotInitConfig::Conditional { .. } => InitKind::Conditional,
        },
        format_version: c.format_version,
        description: c.description.clone(),
        masks: c.masks,
        device: model.device(),
        precision: model.precision(),
        layout: model.layout(),
    })
}
