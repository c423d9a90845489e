//! The trainer learns (loss falls on a tiny model), checkpoints as loadable
//! bundles, resumes where it stopped, and its evaluation scores masks.

mod common;

use slotrt::data::SynthConfig;
use slotrt::model::bundle;
use slotrt::train::losses::LossWeights;
use slotrt::train::schedule::LrSchedule;
use slotrt::train::{TrainConfig, Trainer};
use tch::Device;

fn tiny_config(steps: u64) -> TrainConfig {
    let model = common::tiny_config(32);
    TrainConfig {
        model,
        data: SynthConfig { width: 32, height: 32, frames: 4, ..SynthConfig::default() },
        batch_size: 4,
        clip_frames: 2,
        steps,
        lr: LrSchedule { peak: 2e-3, warmup_steps: 5, total_steps: steps, floor_ratio: 0.1 },
        grad_clip: 1.0,
        seed: 1,
        checkpoint_every: 10,
        eval_every: 20,
        eval_clips: 2,
        losses: LossWeights {
            reconstruction: 1.0,
            self_distillation: 0.1,
            self_distillation_ramp_steps: 5,
            contrastive: 0.05,
            guided: 0.0,
        },
        init_from: None,
        sources: Vec::new(),
    }
}

fn log_losses(dir: &std::path::Path) -> Vec<f64> {
    std::fs::read_to_string(dir.join("train.log"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["loss"].as_f64().unwrap())
        .collect()
}

#[test]
fn loss_falls_and_resume_continues() {
    let dir = std::env::temp_dir().join(format!("slotrt-train-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let mut trainer = Trainer::new(tiny_config(20), &dir, false, Device::Cpu).unwrap();
    trainer.run().unwrap();
    let losses = log_losses(&dir);
    assert_eq!(losses.len(), 20);
    let first: f64 = losses[..3].iter().sum::<f64>() / 3.0;
    let last: f64 = losses[17..].iter().sum::<f64>() / 3.0;
    assert!(last < 0.7 * first, "loss did not fall: {first} -> {last}");
    // The final model and the checkpoint are loadable bundles.
    bundle::load(&dir.join("model.safetensors"), Device::Cpu).unwrap();

    // Resume to 30 steps: 10 more log lines, progress at 30.
    let mut resumed = Trainer::new(tiny_config(30), &dir, true, Device::Cpu).unwrap();
    resumed.run().unwrap();
    assert_eq!(log_losses(&dir).len(), 30);
    let progress = std::fs::read_to_string(dir.join("progress.json")).unwrap();
    assert!(progress.contains("\"step\":30"), "{progress}");
    let log = std::fs::read_to_string(dir.join("train.log")).unwrap();
    assert!(log.contains("val_fg_ari"), "evaluation never logged");
    // The first frame runs 3 iterations: self-distillation has a value.
    let first: serde_json::Value = serde_json::from_str(log.lines().next().unwrap()).unwrap();
    assert!(first["terms"]["self_distillation"].as_f64().unwrap() > 0.0, "{first}");
    assert!(first["terms"]["contrastive"].as_f64().unwrap() < 0.0, "CODA negative term is on: {first}");
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn feature_decoders_train_against_encoder_tokens() {
    let dir = std::env::temp_dir().join(format!("slotrt-train-features-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let mut config = tiny_config(6);
    config.model.decoder =
        slotrt::model::config::DecoderConfig::MlpPatch(slotrt::model::config::MlpPatchConfig { hidden: 32, layers: 3 });
    config.eval_every = 6;
    Trainer::new(config, &dir, false, Device::Cpu).unwrap().run().unwrap();
    let losses = log_losses(&dir);
    assert_eq!(losses.len(), 6);
    assert!(losses.iter().all(|l| l.is_finite() && *l > 0.0), "{losses:?}");
    // Evaluation upsamples token-grid masks to the frame: it ran and logged.
    let log = std::fs::read_to_string(dir.join("train.log")).unwrap();
    assert!(log.contains("val_fg_ari"));
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn guided_training_starts_from_a_bundle_and_learns_the_instance_masks() {
    let dir = std::env::temp_dir().join(format!("slotrt-train-guided-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let small_scenes = |mut c: TrainConfig| {
        c.data.min_objects = 1;
        c.data.max_objects = 3;
        c.losses.contrastive = 0.0;
        c
    };
    Trainer::new(small_scenes(tiny_config(10)), &dir.join("stage1"), false, Device::Cpu).unwrap().run().unwrap();
    let start = dir.join("stage1/model.safetensors");

    let mut config = small_scenes(tiny_config(30));
    config.init_from = Some(start.clone());
    config.losses.guided = 1.0;
    config.lr.peak = 5e-3;
    let mut trainer = Trainer::new(config.clone(), &dir.join("stage2"), false, Device::Cpu).unwrap();
    let loaded = bundle::load(&start, Device::Cpu).unwrap();
    for (name, value) in loaded.vs.variables() {
        assert!(trainer.model.vs.variables()[&name].equal(&value), "{name} not taken from init_from");
    }
    trainer.run().unwrap();
    let guided: Vec<f64> = std::fs::read_to_string(dir.join("stage2/train.log"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["terms"]["guided"].as_f64().unwrap())
        .collect();
    let (first, last) = (guided[..5].iter().sum::<f64>() / 5.0, guided[25..].iter().sum::<f64>() / 5.0);
    assert!(first > 0.0 && last < 0.8 * first, "guided loss did not fall: {first} -> {last}");

    // A bundle of another architecture is refused with a clear error.
    let mut other = config;
    other.model.grouping.slot_dim = 24;
    let err = Trainer::new(other, &dir.join("stage3"), false, Device::Cpu).err().expect("mismatch refused");
    assert!(err.to_string().contains("init_from"), "{err}");
    std::fs::remove_dir_all(dir).unwrap();
}

/// Clip files (here PNG folders as `slotrt synth` writes them) mix with the
/// generator by weight; batches are a pure function of the step; clips of
/// the wrong size are refused naming the file.
#[test]
fn trains_from_clip_files_mixed_with_the_generator() {
    use slotrt::data::{generate_clip, write_clip_pngs, Split};
    use slotrt::train::sources::{ClipSources, DataSource};
    let dir = std::env::temp_dir().join(format!("slotrt-train-files-{}", std::process::id()));
    let files = dir.join("clips");
    let data = SynthConfig { width: 32, height: 32, frames: 6, ..SynthConfig::default() };
    for i in 0..3 {
        write_clip_pngs(&generate_clip(&data, Split::Validation, i).unwrap(), &files.join(format!("clip_{i}")))
            .unwrap();
    }
    let mut config = tiny_config(4);
    config.losses = LossWeights { reconstruction: 1.0, guided: 1.0, ..LossWeights::default() };
    config.sources =
        vec![DataSource { path: Some(files.clone()), weight: 3.0 }, DataSource { path: None, weight: 1.0 }];
    let sources = ClipSources::new(&config.sources, &config.data, config.clip_frames, 1).unwrap();
    assert_eq!(sources.sizes(), vec![Some(3), None]);
    let (a, b) = (sources.batch(7, 4, Device::Cpu).unwrap(), sources.batch(7, 4, Device::Cpu).unwrap());
    assert_eq!(a.frames01.size(), [2, 4, 3, 32, 32]);
    assert!(a.frames01.equal(&b.frames01), "the same step gives the same batch");
    let out = dir.join("run");
    Trainer::new(config.clone(), &out, false, Device::Cpu).unwrap().run().unwrap();
    assert!(log_losses(&out).iter().all(|l| l.is_finite()));
    // A clip of another size names its file.
    let small = SynthConfig { width: 16, height: 16, ..data };
    write_clip_pngs(&generate_clip(&small, Split::Validation, 9).unwrap(), &files.join("clip_small")).unwrap();
    let err = ClipSources::new(&config.sources, &config.data, config.clip_frames, 1).err().unwrap().to_string();
    assert!(err.contains("clip_small") && err.contains("16x16"), "{err}");
    std::fs::remove_dir_all(dir).unwrap();
}
