//! The bundle format: bit-exact round trips, and strict loading where every
//! kind of damage gives its own error naming the field or tensor, and
//! truncated or bit-flipped files never panic.

use std::collections::HashMap;

use safetensors::tensor::{Dtype, SafeTensors, TensorView};
use slotrt::model::{bundle, ModelConfig, SlotModel};
use slotrt::Error;
use tch::Device;

fn small_config() -> ModelConfig {
    let mut c = ModelConfig::savi_small_64();
    c.grouping.slot_dim = 16;
    c.grouping.mlp_hidden = Some(16);
    c.predictor.as_mut().unwrap().ff_dim = 16;
    let slotrt::model::config::EncoderConfig::Cnn(cnn) = &mut c.encoder else { unreachable!() };
    cnn.channels = vec![8; 4];
    let slotrt::model::config::DecoderConfig::SpatialBroadcast(sb) = &mut c.decoder else { unreachable!() };
    sb.channels = vec![8, 8, 8];
    c
}

fn model_bytes() -> Vec<u8> {
    let model = SlotModel::new(&small_config(), Device::Cpu).unwrap();
    bundle::to_bytes(&model).unwrap()
}

/// Rewrites a bundle's tensors and metadata through `edit`.
fn rewrite(
    bytes: &[u8],
    edit: impl FnOnce(&mut Vec<(String, Dtype, Vec<usize>, Vec<u8>)>, &mut HashMap<String, String>),
) -> Vec<u8> {
    let st = SafeTensors::deserialize(bytes).unwrap();
    let (_, meta) = SafeTensors::read_metadata(bytes).unwrap();
    let mut metadata = meta.metadata().clone().unwrap();
    let mut tensors: Vec<_> =
        st.tensors().into_iter().map(|(n, v)| (n, v.dtype(), v.shape().to_vec(), v.data().to_vec())).collect();
    edit(&mut tensors, &mut metadata);
    let views: Vec<(String, TensorView)> =
        tensors.iter().map(|(n, d, s, b)| (n.clone(), TensorView::new(*d, s.clone(), b).unwrap())).collect();
    safetensors::serialize(views, Some(metadata)).unwrap()
}

fn load_error(bytes: &[u8]) -> String {
    match bundle::load_bytes(bytes, Device::Cpu) {
        Err(Error::BadModel(msg)) => msg,
        Err(other) => panic!("expected BadModel, got {other:?}"),
        Ok(_) => panic!("damaged bundle loaded"),
    }
}

#[test]
fn save_load_save_is_bit_exact() {
    let first = model_bytes();
    let model = bundle::load_bytes(&first, Device::Cpu).unwrap();
    let second = bundle::to_bytes(&model).unwrap();
    assert_eq!(first, second);
    let path = std::env::temp_dir().join(format!("slotrt-bundle-{}.safetensors", std::process::id()));
    bundle::save(&model, &path).unwrap();
    assert_eq!(std::fs::read(&path).unwrap(), first);
    std::fs::remove_file(path).unwrap();
}

#[test]
fn every_problem_is_named_at_once() {
    let bytes = rewrite(&model_bytes(), |tensors, _| {
        tensors.retain(|(n, ..)| n != "grouping.to_q.weight");
        for (n, dtype, shape, data) in tensors.iter_mut() {
            if n == "encoder.pos.weight" {
                shape.reverse();
            }
            if n == "decoder.out.bias" {
                *dtype = Dtype::F64;
                data.extend(vec![0u8; data.len()]);
            }
        }
        tensors.push(("extra.weight".into(), Dtype::F32, vec![1], vec![0; 4]));
    });
    let msg = load_error(&bytes);
    assert!(msg.contains("4 problem(s)"), "{msg}");
    assert!(msg.contains("missing tensor 'grouping.to_q.weight'"), "{msg}");
    assert!(msg.contains("tensor 'encoder.pos.weight' has shape"), "{msg}");
    assert!(msg.contains("tensor 'decoder.out.bias' has dtype F64"), "{msg}");
    assert!(msg.contains("unexpected tensor 'extra.weight'"), "{msg}");
}

#[test]
fn config_problems_name_the_field() {
    let bytes = model_bytes();
    let with_config = |f: &dyn Fn(&mut serde_json::Value)| {
        rewrite(&bytes, |_, meta| {
            let mut v: serde_json::Value = serde_json::from_str(&meta[bundle::CONFIG_KEY]).unwrap();
            f(&mut v);
            meta.insert(bundle::CONFIG_KEY.into(), v.to_string());
        })
    };
    let msg = load_error(&with_config(&|v| v["format_version"] = 99.into()));
    assert!(msg.contains("format_version 99 is not supported"), "{msg}");
    let msg = load_error(&with_config(&|v| v["grouping"]["renormalization"] = "sideways".into()));
    assert!(msg.contains("unknown variant `sideways`"), "{msg}");
    let msg = load_error(&with_config(&|v| v["encoder"]["kind"] = "resnet".into()));
    assert!(msg.contains("unknown variant `resnet`"), "{msg}");
    let msg = load_error(&with_config(&|v| v["grouping"]["num_slots"] = 0.into()));
    assert!(msg.contains("grouping.num_slots must be positive"), "{msg}");
    let msg = load_error(&with_config(&|v| v["grouping"]["colour"] = 1.into()));
    assert!(msg.contains("unknown field `colour`"), "{msg}");
    let msg = load_error(&rewrite(&bytes, |_, meta| {
        meta.remove(bundle::FORMAT_KEY);
    }));
    assert!(msg.contains("not a slotrt bundle"), "{msg}");
}

#[test]
fn not_a_bundle() {
    assert!(load_error(b"").contains("not a safetensors file"));
    assert!(load_error(b"hello, I am a text file").contains("not a safetensors file"));
    let err = bundle::load(std::path::Path::new("/nonexistent/model.safetensors"), Device::Cpu);
    assert!(matches!(err, Err(Error::Io { .. })));
}

#[test]
fn truncated_and_bit_flipped_bundles_never_panic() {
    let bytes = model_bytes();
    // Every truncation point in the header region, then a stride through the data.
    let cuts = (0..bytes.len().min(4096)).chain((4096..bytes.len()).step_by(997));
    for cut in cuts {
        let result = std::panic::catch_unwind(|| bundle::load_bytes(&bytes[..cut], Device::Cpu));
        assert!(matches!(result, Ok(Err(Error::BadModel(_)))), "cut at {cut}");
    }
    // Deterministic bit flips: loading may succeed (a flipped weight is
    // still a weight) but must never panic.
    let mut state = 0x9E3779B97F4A7C15u64;
    for _ in 0..300 {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let mut damaged = bytes.clone();
        let pos = (state as usize) % damaged.len().min(8 + 4096);
        damaged[pos] ^= 1 << (state >> 60 & 7);
        let result = std::panic::catch_unwind(|| bundle::load_bytes(&damaged, Device::Cpu).map(|_| ()));
        assert!(result.is_ok(), "bit flip at byte {pos} panicked");
    }
}
