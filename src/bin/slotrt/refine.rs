//! Mask refinement options (`slotrt eval`) and `slotrt configure`, which
//! writes a bundle's serving settings without touching its weights.

use std::path::PathBuf;

use clap::Args;
use slotrt::model::refine::{GuidedFilter, RefineConfig};
use slotrt::model::{ModelConfig, SlotModel};
use slotrt::runtime::MaskRefinement;

#[derive(Args, Clone, Debug)]
pub struct RefineArgs {
    /// Mask refinement: model (the bundle's "refine", what sessions
    /// serve), off (bilinear upsampling only, as ../shared/MODELS.md
    /// section 2 scores) or guided (colour guided filter).
    #[arg(long, default_value = "model")]
    pub refine: String,
    /// Guided filter radius in input pixels (with a guided filter).
    #[arg(long)]
    pub refine_radius: Option<i64>,
    /// Guided filter regulariser, squared [0, 1] intensity (with a guided filter).
    #[arg(long)]
    pub refine_eps: Option<f64>,
}

impl RefineArgs {
    /// Sets `model.config.refine` as these options say, and prints it.
    pub fn apply(&self, model: &mut SlotModel) -> slotrt::Result<()> {
        model.config.refine = self.resolve(&model.config)?.map(RefineConfig::GuidedFilter);
        Ok(())
    }

    /// The filter these options ask for on a model with `config`; prints it.
    pub fn resolve(&self, config: &ModelConfig) -> slotrt::Result<Option<GuidedFilter>> {
        let mode = match self.refine.as_str() {
            "model" => MaskRefinement::Model,
            "off" | "none" => MaskRefinement::Off,
            "guided" | "guided_filter" => MaskRefinement::GuidedFilter,
            other => return Err(slotrt::Error::invalid(format!("--refine {other}: expected model, off or guided"))),
        };
        let mut filter = mode.resolve(config);
        if let Some(f) = filter.as_mut() {
            f.radius = self.refine_radius.unwrap_or(f.radius);
            f.eps = self.refine_eps.unwrap_or(f.eps);
            f.validate(config.preprocess.height, config.preprocess.width)?;
        } else if self.refine_radius.is_some() || self.refine_eps.is_some() {
            return Err(slotrt::Error::invalid("--refine-radius and --refine-eps need a guided filter"));
        }
        match filter {
            Some(f) => println!("masks: guided filter, radius {} px, eps {}", f.radius, f.eps),
            None => println!("masks: upsampled bilinearly, no refinement"),
        }
        Ok(filter)
    }
}

#[derive(Args)]
pub struct ConfigureArgs {
    /// Model bundle to read (.safetensors).
    #[arg(long)]
    pub model: PathBuf,
    /// Where to write the bundle with the new settings (may be --model).
    #[arg(long)]
    pub out: PathBuf,
    #[command(flatten)]
    pub refine: RefineArgs,
}

pub fn configure(args: ConfigureArgs) -> slotrt::Result<()> {
    let mut model = slotrt::model::bundle::load(&args.model, tch::Device::Cpu)?;
    args.refine.apply(&mut model)?;
    slotrt::model::bundle::save(&model, &args.out)?;
    println!("wrote {}", args.out.display());
    Ok(())
}
