//! The offline trainer behind `slotrt train`: video clips with slots carried
//! through the predictor as at inference, the losses of `Objective` (guided
//! masks from the generator's instance ids), Adam
//! with warm-up and cosine decay, gradient clipping, periodic validation,
//! checkpoints (bundles) and a JSON-lines log.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use serde::{Deserialize, Serialize};
use tch::nn::OptimizerConfig;
use tch::{Device, Kind, Tensor};

use super::batch::{clip_batch, ClipBatch};
use super::evaluate::score_batch;
use super::losses::LossWeights;
use super::objective::{Objective, Terms};
use super::schedule::LrSchedule;
use super::sources::{ClipSources, DataSource};
use crate::data::{Split, SynthConfig};
use crate::error::{Error, Result};
use crate::model::grouping::InitInput;
use crate::model::{bundle, ModelConfig, SlotModel};

/// Everything a training run needs; stored next to its outputs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainConfig {
    pub model: ModelConfig,
    pub data: SynthConfig,
    pub batch_size: usize,
    /// Frames per training clip (slots carried across them).
    pub clip_frames: u32,
    pub steps: u64,
    pub lr: LrSchedule,
    pub grad_clip: f64,
    pub seed: i64,
    pub checkpoint_every: u64,
    pub eval_every: u64,
    pub eval_clips: usize,
    #[serde(default)]
    pub losses: LossWeights,
    /// Training clips from several sources mixed by weight (clip files and
    /// the generator `data`); empty = the generator alone.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sources: Vec<DataSource>,
    /// Start from this bundle's weights (same architecture as `model`)
    /// instead of a fresh initialisation; the schedule starts at step 0.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub init_from: Option<PathBuf>,
}

impl TrainConfig {
    pub fn from_file(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        let config: TrainConfig =
            serde_json::from_str(&text).map_err(|e| Error::invalid(format!("{}: {e}", path.display())))?;
        config.model.validate()?;
        config.data.validate()?;
        config.losses.validate()?;
        if config.batch_size == 0 || config.clip_frames == 0 || config.steps == 0 {
            return Err(Error::invalid("batch_size, clip_frames and steps must be positive"));
        }
        Ok(config)
    }
}

/// Progress saved beside the checkpoint so `--resume` continues the
/// schedule (Adam's moments restart; warm-up is not repeated).
#[derive(Serialize, Deserialize)]
struct Progress {
    step: u64,
}

pub struct Trainer {
    pub config: TrainConfig,
    pub model: SlotModel,
    out: PathBuf,
    step: u64,
}

impl Trainer {
    /// Starts a run in `out`, or continues the one there when `resume`.
    pub fn new(config: TrainConfig, out: &Path, resume: bool, device: Device) -> Result<Self> {
        std::fs::create_dir_all(out).map_err(|e| Error::io(out, e))?;
        tch::manual_seed(config.seed);
        let checkpoint = out.join("checkpoint.safetensors");
        let (model, step) = if resume && checkpoint.exists() {
            let model = bundle::load(&checkpoint, device)?;
            let text = std::fs::read_to_string(out.join("progress.json")).map_err(|e| Error::io(out, e))?;
            let progress: Progress = serde_json::from_str(&text).map_err(|e| Error::invalid(e.to_string()))?;
            (model, progress.step)
        } else {
            let mut model = SlotModel::new(&config.model, device)?;
            if let Some(path) = &config.init_from {
                let start = bundle::load(path, device)?;
                tch::no_grad(|| model.vs.copy(&start.vs)).map_err(|e| {
                    Error::invalid(format!("init_from {}: not the architecture of this config: {e}", path.display()))
                })?;
            }
            (model, 0)
        };
        let config_path = out.join("train_config.json");
        std::fs::write(&config_path, serde_json::to_string_pretty(&config).expect("serialisable"))
            .map_err(|e| Error::io(&config_path, e))?;
        Ok(Trainer { config, model, out: out.to_path_buf(), step })
    }

    fn log(&self, line: serde_json::Value) -> Result<()> {
        let path = self.out.join("train.log");
        let mut f = OpenOptions::new().create(true).append(true).open(&path).map_err(|e| Error::io(&path, e))?;
        writeln!(f, "{line}").map_err(|e| Error::io(&path, e))
    }

    fn checkpoint(&self) -> Result<()> {
        bundle::save(&self.model, &self.out.join("checkpoint.safetensors"))?;
        let path = self.out.join("progress.json");
        std::fs::write(&path, serde_json::to_string(&Progress { step: self.step }).expect("json"))
            .map_err(|e| Error::io(&path, e))
    }

    /// The objective on one batch of clips, slots carried frame to frame
    /// from fresh noise; the generator's instance ids guide the masks when
    /// the guided term is on.
    fn clip_terms(&self, objective: &mut Objective, batch: &ClipBatch) -> Result<Terms> {
        let frames01 = &batch.frames01;
        let (t, b) = (frames01.size()[0], frames01.size()[1]);
        let m = &self.model;
        let noise = Tensor::randn([b, m.num_slots(), m.slot_dim()], (Kind::Float, m.device()));
        let init = m.init_slots(b, InitInput::Noise(&noise))?;
        let frames: Vec<Tensor> = (0..t).map(|i| m.normalize(&frames01.get(i))).collect();
        let guide = (objective.weights.guided > 0.0).then(|| batch.instance_ids(m.device()));
        objective.clip_terms(m, &frames, init, self.step, guide.as_deref())
    }

    /// Trains until `config.steps`, checkpointing and validating on the way.
    pub fn run(&mut self) -> Result<()> {
        let c = self.config.clone();
        let sources = ClipSources::new(&c.sources, &c.data, c.clip_frames, c.seed as u64)?;
        let eval_data = SynthConfig { frames: c.data.frames, ..c.data.clone() };
        let mut opt = tch::nn::Adam::default().build(&self.model.vs, c.lr.at(self.step))?;
        let mut objective = Objective::new(&self.model, c.losses.clone())?;
        let bar = indicatif::ProgressBar::new(c.steps).with_style(
            indicatif::ProgressStyle::with_template("{bar:30} {pos}/{len} [{elapsed} eta {eta}] {msg}")
                .expect("template"),
        );
        bar.set_position(self.step);
        let started = Instant::now();
        let first_step = self.step;
        let mut last_fg_ari = f64::NAN;
        while self.step < c.steps {
            let lr = c.lr.at(self.step);
            opt.set_lr(lr);
            let batch = sources.batch(self.step, c.batch_size, self.model.device())?;
            let step_terms = self.clip_terms(&mut objective, &batch)?;
            let loss = step_terms.total.shallow_clone();
            let loss_value = loss.double_value(&[]);
            let terms: serde_json::Map<String, serde_json::Value> =
                step_terms.values().into_iter().map(|(k, v)| (k.to_string(), v.into())).collect();
            if !loss_value.is_finite() {
                return Err(Error::Internal(format!("loss became {loss_value} at step {}", self.step)));
            }
            opt.backward_step_clip_norm(&loss, c.grad_clip);
            self.step += 1;
            let rate = (self.step - first_step) as f64 / started.elapsed().as_secs_f64();
            if self.step % c.eval_every == 0 || self.step == c.steps {
                let val = clip_batch(&eval_data, Split::Validation, 0, c.eval_clips, self.model.device())?;
                let s = score_batch(&self.model, &val, true, 0)?;
                last_fg_ari = s.fg_ari;
                self.log(serde_json::json!({
                    "step": self.step, "loss": loss_value, "terms": terms, "lr": lr, "steps_per_s": rate,
                    "val_fg_ari": s.fg_ari, "val_mbo": s.mbo, "val_video_fg_ari": s.video_fg_ari,
                }))?;
            } else {
                self.log(serde_json::json!({
                    "step": self.step, "loss": loss_value, "terms": terms, "lr": lr, "steps_per_s": rate,
                }))?;
            }
            if self.step % c.checkpoint_every == 0 || self.step == c.steps {
                self.checkpoint()?;
            }
            bar.set_position(self.step);
            bar.set_message(format!("loss {loss_value:.4} fg-ari {last_fg_ari:.3} {rate:.2} step/s"));
        }
        bar.finish();
        bundle::save(&self.model, &self.out.join("model.safetensors"))
    }
}
