//! Diagnostic: can a model fit one fixed batch? If the reconstruction loss
//! does not fall far below the "mean image" plateau here, training on the
//! full stream cannot work either, and the bug is in the model or trainer.
//!
//!     cargo run --release --example overfit_one_batch -- models/savi-small-64.train.json 300

use slotrt::data::{Split, SynthConfig};
use slotrt::model::grouping::InitInput;
use slotrt::model::SlotModel;
use slotrt::train::{batch::clip_batch, evaluate, TrainConfig};
use tch::nn::OptimizerConfig;
use tch::{Device, Kind, Tensor};

fn main() -> slotrt::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let config =
        TrainConfig::from_file(std::path::Path::new(args.get(1).map_or("models/savi-small-64.train.json", |s| s)))?;
    let steps: u64 = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(300);
    tch::manual_seed(0);
    let model = SlotModel::new(&config.model, Device::Cpu)?;
    let data = SynthConfig { frames: config.clip_frames, ..config.data.clone() };
    let batch = clip_batch(&data, Split::Train, 0, config.batch_size, Device::Cpu)?;
    let mut opt = tch::nn::Adam::default().build(&model.vs, config.lr.peak)?;
    let f = model.config.decoder_downscale();
    for step in 1..=steps {
        let b = batch.frames01.size()[1];
        let mut init = model.init_slots(b, InitInput::Seed(step))?;
        let mut loss = Tensor::zeros([], (Kind::Float, Device::Cpu));
        for t in 0..batch.frames01.size()[0] {
            let images = model.normalize(&batch.frames01.get(t));
            let out = model.step(&images, &init, t == 0)?;
            let target = if f > 1 { images.avg_pool2d([f, f], [f, f], [0, 0], false, true, None) } else { images };
            loss += model.decode(&out.slots).reconstruction.mse_loss(&target, tch::Reduction::Mean);
            init = out.next_init;
        }
        opt.backward_step_clip_norm(&loss, config.grad_clip);
        if step % 25 == 0 || step == 1 {
            let scores = evaluate::score_batch(&model, &batch, true, 0)?;
            println!(
                "step {step:5} loss {:.4} fg-ari {:.3} mbo {:.3}",
                loss.double_value(&[]),
                scores.fg_ari,
                scores.mbo
            );
        }
    }
    Ok(())
}
