//! Reduced precision on the shipped model: bf16 keeps the segmentation
//! (FG-ARI and video FG-ARI within 0.01 of fp32 on held-out clips), stays
//! close per frame, and the runtime reports what it resolved.

use std::path::{Path, PathBuf};

use slotrt::data::{Split, SynthConfig};
use slotrt::model::{bundle, Layout, Precision};
use slotrt::runtime::{ModelOptions, RuntimeModel};
use slotrt::train::evaluate::score_split;
use slotrt::Error;
use tch::{Device, Kind, Tensor};

fn shipped_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("models/savi-small-64.safetensors")
}

fn load(precision: Precision) -> std::sync::Arc<RuntimeModel> {
    RuntimeModel::load(&shipped_path(), &ModelOptions { precision, ..ModelOptions::default() }).unwrap()
}

#[test]
fn bf16_scores_within_0_01_of_fp32_on_held_out_clips() {
    let (fp32, bf16) = (load(Precision::Fp32), load(Precision::Bf16));
    assert_eq!(fp32.info().precision, Precision::Fp32);
    assert_eq!(bf16.info().precision, Precision::Bf16);
    // bf16 is emulated (slow) on CPUs without native support: few clips.
    let data = SynthConfig { frames: 8, ..SynthConfig::default() };
    let a = score_split(fp32.slot_model(), &data, Split::Test, 8, 8, true).unwrap();
    let b = score_split(bf16.slot_model(), &data, Split::Test, 8, 8, true).unwrap();
    assert!((a.fg_ari - b.fg_ari).abs() <= 0.01, "FG-ARI fp32 {} bf16 {}", a.fg_ari, b.fg_ari);
    assert!(
        (a.video_fg_ari - b.video_fg_ari).abs() <= 0.01,
        "video FG-ARI fp32 {} bf16 {}",
        a.video_fg_ari,
        b.video_fg_ari
    );
}

#[test]
fn bf16_slots_and_masks_stay_close_to_fp32_and_carried_slots_stay_fp32() {
    let (fp32, bf16) = (load(Precision::Fp32), load(Precision::Bf16));
    let clip =
        slotrt::data::generate_clip(&SynthConfig { frames: 3, ..SynthConfig::default() }, Split::Test, 0).unwrap();
    let batch = slotrt::train::batch::stack_clips(vec![clip], Device::Cpu);
    tch::no_grad(|| {
        let init = fp32.slot_model().init_slots(1, slotrt::model::grouping::InitInput::Seed(7)).unwrap();
        let (mut ia, mut ib) = (init.shallow_clone(), init);
        for t in 0..3 {
            let images = fp32.slot_model().normalize(&batch.frames01.get(t));
            let a = fp32.slot_model().step_decoded(&images, &ia, t == 0).unwrap();
            let b = bf16.slot_model().step_decoded(&images, &ib, t == 0).unwrap();
            assert_eq!(b.slots.kind(), Kind::Float);
            assert_eq!(b.next_init.kind(), Kind::Float);
            let rel = |x: &Tensor, y: &Tensor| (x - y).norm().double_value(&[]) / y.norm().double_value(&[]);
            let slots = rel(&b.slots, &a.slots);
            let masks = rel(b.decoder_masks.as_ref().unwrap(), a.decoder_masks.as_ref().unwrap());
            assert!(slots < 0.05 && masks < 0.05, "frame {t}: slots {slots:.4}, masks {masks:.4}");
            (ia, ib) = (a.next_init, b.next_init);
        }
    });
}

#[test]
fn auto_and_fp16_resolve_by_hardware_and_fp32_is_bit_identical_to_the_default() {
    let auto = load(Precision::Auto);
    let amx = slotrt::model::precision::cpu_has_amx_bf16();
    assert_eq!(auto.info().precision, if amx { Precision::Bf16 } else { Precision::Fp32 });
    let fp16 = RuntimeModel::load(&shipped_path(), &ModelOptions { precision: Precision::Fp16, ..Default::default() });
    assert!(matches!(fp16, Err(Error::Unsupported(_))), "{fp16:?}");
    // A precision option of fp32 changes nothing (in the bundle's layout).
    let plain = bundle::load(&shipped_path(), Device::Cpu).unwrap();
    let options = ModelOptions { precision: Precision::Fp32, layout: Layout::Nchw, ..ModelOptions::default() };
    let fp32 = RuntimeModel::load(&shipped_path(), &options).unwrap();
    let data = SynthConfig { frames: 4, ..SynthConfig::default() };
    let a = score_split(&plain, &data, Split::Test, 2, 2, true).unwrap();
    let b = score_split(fp32.slot_model(), &data, Split::Test, 2, 2, true).unwrap();
    assert_eq!(a.fg_ari.to_bits(), b.fg_ari.to_bits());
}
