//! The trainer's weights: its own trainable copy, the last good weights a
//! rollback returns to, their moving average when that is served, and
//! saving served weights as a bundle with their provenance.

use std::path::Path;

use tch::{Device, Tensor};

use super::finetune_options::FinetuneOptions;
use super::model::RuntimeModel;
use crate::error::{Error, Result};
use crate::model::{bundle, SlotModel};
use crate::train::objective::Objective;

/// The trainer's own copy of the weights, the last good ones, their moving
/// average (when served), and the objective.
pub(crate) struct TrainCopy {
    pub model: SlotModel,
    pub good: SlotModel,
    pub average: Option<Average>,
    pub objective: Objective,
}

/// An exponential moving average of the trained weights.
pub(crate) struct Average {
    model: SlotModel,
    /// (average, trained) variable pairs, matched by name once.
    pairs: Vec<(Tensor, Tensor)>,
    decay: f64,
}

impl Average {
    fn new(trained: &SlotModel, base: Option<&Path>, decay: f64) -> Result<Self> {
        let mut model = SlotModel::with_base_dir(&trained.config, trained.device(), base)?;
        tch::no_grad(|| model.vs.copy(&trained.vs))?;
        model.vs.freeze();
        let mine = model.vs.variables();
        let pairs = trained
            .vs
            .variables()
            .into_iter()
            .filter_map(|(name, t)| Some((mine.get(&name)?.shallow_clone(), t)))
            .collect();
        Ok(Average { model, pairs, decay })
    }

    /// Folds the trained weights in.
    pub fn absorb(&mut self) {
        tch::no_grad(|| {
            for (average, trained) in &mut self.pairs {
                let _ = average.lerp_(&trained.detach(), 1.0 - self.decay);
            }
        });
    }

    /// Starts over from `from`.
    fn reset(&mut self, from: &SlotModel) -> Result<()> {
        tch::no_grad(|| self.model.vs.copy(&from.vs))?;
        Ok(())
    }
}

impl TrainCopy {
    pub fn new(loaded: &RuntimeModel, options: &FinetuneOptions) -> Result<Self> {
        let config = loaded.config();
        let base = loaded.base_dir();
        let mut model = SlotModel::with_base_dir(config, options.device, base)?;
        let mut good = SlotModel::with_base_dir(config, options.device, base)?;
        tch::no_grad(|| -> Result<()> {
            model.vs.copy(&loaded.slot_model().vs)?;
            good.vs.copy(&loaded.slot_model().vs)?;
            Ok(())
        })?;
        good.vs.freeze();
        let mut trainable = 0;
        for (name, var) in model.vs.variables() {
            let part = name.split('.').next().unwrap_or("");
            let on = match part {
                "encoder" => options.parts.encoder,
                "grouping" | "init" => options.parts.grouping,
                "predictor" => options.parts.predictor,
                "decoder" => options.parts.decoder,
                _ => false,
            };
            // Frozen backbones were created without gradients: keep them so.
            let on = on && var.requires_grad();
            if on {
                trainable += var.numel();
            }
            let _ = var.set_requires_grad(on);
        }
        if trainable == 0 {
            return Err(Error::Unsupported(
                "nothing to fine-tune: the chosen parts of this model have no trainable weights".into(),
            ));
        }
        if !options.parts.decoder && options.losses.reconstruction > 0.0 && !options.parts.grouping {
            return Err(Error::Unsupported("reconstruction with a frozen decoder needs the grouping to train".into()));
        }
        let objective = Objective::new(&model, options.losses.clone())?;
        let average = if options.ema_decay > 0.0 { Some(Average::new(&model, base, options.ema_decay)?) } else { None };
        Ok(TrainCopy { model, good, average, objective })
    }

    pub fn restore(&mut self, from: &SlotModel) -> Result<()> {
        tch::no_grad(|| self.model.vs.copy(&from.vs))?;
        if let Some(average) = &mut self.average {
            average.reset(from)?;
        }
        Ok(())
    }

    /// The weights inference gets.
    pub fn served(&self) -> &SlotModel {
        self.average.as_ref().map_or(&self.model, |a| &a.model)
    }
}

/// Writes `model`'s weights as a bundle whose description records the
/// fine-tuning (provenance).
pub(crate) fn save_with_provenance(model: &RuntimeModel, loaded: &RuntimeModel, steps: u64, path: &Path) -> Result<()> {
    let mut config = model.config().clone();
    config.description =
        format!("{} (fine-tuned online by slotrt {} for {steps} steps)", loaded.config().description, crate::VERSION);
    // Saved from the CPU; `copy` moves the weights across devices.
    let mut copy = SlotModel::with_base_dir(&config, Device::Cpu, loaded.base_dir())?;
    tch::no_grad(|| copy.vs.copy(&model.slot_model().vs))?;
    bundle::save(&copy, path)
}
