//! Numerical parity with the PyTorch reference (bindings/python/slotrt/
//! torch_ref.py): the same random weights, exported from PyTorch as a bundle
//! and loaded natively, give the same slots, attention masks, carried slots
//! and decoder output over a clip, within 1e-4 (float32, CPU).
//!
//! Needs the project's Python (torch + safetensors) first on PATH, as
//! `source scripts/env.sh` arranges.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use slotrt::model::bundle;
use slotrt::model::grouping::InitInput;
use tch::{Device, Tensor};

const TOLERANCE: f64 = 1e-4;

fn reference_case(variant: &str) -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    // Tests run in parallel and two may ask for the same variant.
    static CALLS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let call = CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("slotrt-parity-{variant}-{}-{call}", std::process::id()));
    let status = Command::new("python")
        .arg(root.join("tests/parity/reference.py"))
        .arg(variant)
        .arg(&dir)
        .status()
        .expect("python not found: run `source scripts/env.sh` first");
    assert!(status.success(), "reference.py {variant} failed");
    dir
}

fn max_abs_diff(a: &Tensor, b: &Tensor) -> f64 {
    assert_eq!(a.size(), b.size(), "shape mismatch");
    (a - b).abs().max().double_value(&[])
}

/// Returns the number of active slots (over the batch) per frame.
fn check_variant(variant: &str) -> Vec<i64> {
    let dir = reference_case(variant);
    let model = bundle::load(&dir.join("model.safetensors"), Device::Cpu).expect("bundle loads");
    let case: HashMap<String, Tensor> =
        Tensor::read_safetensors(dir.join("case.safetensors")).unwrap().into_iter().collect();
    let frames = &case["frames"];
    let batch = frames.size()[1];
    let mut worst = 0.0f64;
    let mut active_counts = Vec::new();
    tch::no_grad(|| {
        let input = if let Some(boxes) = case.get("boxes") {
            InitInput::Boxes(boxes)
        } else {
            InitInput::Noise(&case["noise"])
        };
        let mut init = model.init_slots(batch, input).unwrap();
        for t in 0..frames.size()[0] {
            let out = model.step_decoded(&frames.get(t), &init, t == 0).unwrap();
            let (decoder_masks, reconstruction) =
                (out.decoder_masks.as_ref().unwrap(), out.reconstruction.as_ref().unwrap());
            for (name, ours) in [
                ("features", &out.features),
                ("slots", &out.slots),
                ("attention_masks", &out.attention_masks),
                ("next_init", &out.next_init),
                ("decoder_masks", decoder_masks),
                ("reconstruction", reconstruction),
            ] {
                let diff = max_abs_diff(ours, &case[&format!("{name}_{t}")]);
                assert!(diff <= TOLERANCE, "{variant}: {name} at frame {t} differs by {diff:e}");
                worst = worst.max(diff);
            }
            let active = out.active.to_kind(tch::Kind::Float);
            assert_eq!(
                max_abs_diff(&active, &case[&format!("active_{t}")]),
                0.0,
                "{variant}: active slots differ at frame {t}"
            );
            active_counts.push(active.sum(tch::Kind::Float).double_value(&[]) as i64);
            // Carry our own state forward: errors would accumulate.
            init = out.next_init;
        }
    });
    eprintln!(
        "{variant}: max abs difference {worst:e} over {} frames; active slots per frame {active_counts:?}",
        frames.size()[0]
    );
    std::fs::remove_dir_all(dir).ok();
    active_counts
}

#[test]
fn vanilla_slot_attention_with_spatial_broadcast_decoder() {
    check_variant("vanilla");
}

#[test]
fn savi_predictor_over_eight_frames_of_carry_over() {
    check_variant("savi");
}

#[test]
fn learned_queries_prenorm_predictor_and_heads() {
    check_variant("queries");
}

#[test]
fn dias_reduction_and_reinitialised_aggregation() {
    let counts = check_variant("dias");
    // The thresholds must actually drop some slots, and never all of them.
    let full = 2 * 5;
    assert!(counts.iter().any(|&c| c < full), "no slot was dropped: {counts:?}");
    assert!(counts.iter().all(|&c| c >= 2), "{counts:?}");
}

#[test]
fn conditional_init_from_first_frame_boxes() {
    check_variant("conditional");
}

#[test]
fn mlp_patch_decoder_over_features() {
    check_variant("mlp_patch");
}

#[test]
fn transformer_decoder_with_register_slots() {
    check_variant("transformer");
}

#[test]
fn torchscript_encoder_with_projection() {
    check_variant("torchscript");
}

#[test]
fn torchscript_sidecar_is_pinned_by_checksum() {
    let dir = reference_case("torchscript");
    let bundle_path = dir.join("model.safetensors");
    let message = |r: slotrt::Result<slotrt::model::SlotModel>| match r {
        Err(slotrt::Error::BadModel(m)) => m,
        other => panic!("expected BadModel, got {:?}", other.map(|_| ())),
    };
    // Without the bundle's directory the relative file cannot be found.
    let bytes = std::fs::read(&bundle_path).unwrap();
    assert!(message(bundle::load_bytes(&bytes, Device::Cpu)).contains("relative"));
    // A changed backbone file is refused.
    let sidecar = dir.join("encoder.pt");
    let mut ts = std::fs::read(&sidecar).unwrap();
    ts.push(0);
    std::fs::write(&sidecar, &ts).unwrap();
    let m = message(bundle::load(&bundle_path, Device::Cpu));
    assert!(m.contains("checksum mismatch") && m.contains("encoder.pt"), "{m}");
    // A missing one is named.
    std::fs::remove_file(&sidecar).unwrap();
    let m = message(bundle::load(&bundle_path, Device::Cpu));
    assert!(m.contains("encoder.pt"), "{m}");
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn vit_encoder_with_registers_and_layer_scale() {
    check_variant("vit");
}

#[test]
fn spatial_broadcast_with_per_position_mlp() {
    check_variant("broadcast_mlp");
}
