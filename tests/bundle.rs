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

/// Rewrites a bundle's JSON config through `edit`.
fn with_config(bytes: &[u8], edit: &dyn Fn(&mut serde_json::Value)) -> Vec<u8> {
    rewrite(bytes, |_, meta| {
        let mut v: serde_json::Value = serde_json::from_str(&meta[bundle::CONFIG_KEY]).unwrap();
        edit(&mut v);
        meta.insert(bundle::CONFIG_KEY.into(), v.to_string());
    })
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
    let with_config = |f: &dyn Fn(&mut serde_json::Value)| with_config(&bytes, f);
    let msg = load_error(&with_config(&|v| v["format_version"] = 99.into()));
    assert!(msg.contains("format_version 99 is not supported"), "{msg}");
    let msg = load_error(&with_config(&|v| v["grouping"]["renormalization"] = "sideways".into()));
    assert!(msg.contains("unknown variant `sideways`"), "{msg}");
    let msg = load_error(&with_config(&|v| v["encoder"]["kind"] = "resnet".into()));
    assert!(msg.contains("unknown variant `resnet`"), "{msg}");
    let msg = load_error(&with_config(&|v| v["grouping"]["num_slots"] = 0.into()));
    assert!(msg.contains("grouping.num_slots is 0, must be in 1..=256"), "{msg}");
    let msg = load_error(&with_config(&|v| v["grouping"]["colour"] = 1.into()));
    assert!(msg.contains("unknown field `colour`"), "{msg}");
    let msg = load_error(&rewrite(&bytes, |_, meta| {
        meta.remove(bundle::FORMAT_KEY);
    }));
    assert!(msg.contains("not a slotrt bundle"), "{msg}");
}

/// Fuzzed bundles once aborted the process or never returned: every
/// numeric config field has a range, checked at load.
#[test]
fn config_numbers_out_of_range_are_refused_at_load() {
    let bytes = model_bytes();
    let with_config = |f: &dyn Fn(&mut serde_json::Value)| with_config(&bytes, f);
    type Edit<'a> = &'a dyn Fn(&mut serde_json::Value);
    let cases: [(&str, Edit, &str); 6] = [
        (
            "iters_first 2^32",
            &|v| v["grouping"]["iters_first"] = 4294967296u64.into(),
            "grouping.iters_first is 4294967296",
        ),
        ("iters_later 65536", &|v| v["grouping"]["iters_later"] = 65536.into(), "grouping.iters_later is 65536"),
        ("num_slots 65536", &|v| v["grouping"]["num_slots"] = 65536.into(), "grouping.num_slots is 65536"),
        ("huge input", &|v| v["preprocess"]["height"] = 1_000_000.into(), "preprocess.height is 1000000"),
        (
            "kernel 999",
            &|v| v["encoder"]["kernel_sizes"][0] = 999.into(),
            "encoder.kernel_sizes[0] must be odd and in 1..=64",
        ),
        ("tiny std", &|v| v["preprocess"]["std"][0] = 1e-30.into(), "preprocess.std must be in [1e-6, 1e6]"),
    ];
    for (name, edit, expected) in cases {
        let msg = load_error(&with_config(edit));
        assert!(msg.contains(expected), "{name}: {msg}");
    }
}

/// A config whose sizes imply far more weights than the file holds is
/// refused before anything is allocated (it once made libtorch try to
/// allocate a terabyte).
#[test]
fn configs_asking_for_more_weights_than_the_file_holds_are_refused_before_allocating() {
    let bytes =
        with_config(&model_bytes(), &|v| v["encoder"]["channels"] = serde_json::json!([8192, 8192, 8192, 8192]));
    let msg = load_error(&bytes);
    assert!(msg.contains("the config implies at least") && msg.contains("weights but the file holds"), "{msg}");
    // A real bundle always holds at least the bound.
    let config = small_config();
    let model = SlotModel::new(&config, Device::Cpu).unwrap();
    let held: i64 = model.vs.variables().values().map(|t| t.numel() as i64).sum();
    assert!(slotrt::model::limits::weights_lower_bound(&config) <= held as u64);
}

#[test]
fn duplicate_tensor_keys_are_refused() {
    let bytes = model_bytes();
    let len = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    let header = std::str::from_utf8(&bytes[8..8 + len]).unwrap();
    // Repeat one tensor's entry under the same name (same offsets): a JSON
    // parser would keep one silently.
    let key = "\"grouping.to_q.weight\":";
    let at = header.find(key).unwrap();
    let end = at + header[at..].find('}').unwrap() + 1;
    let entry = &header[at..end];
    let mut doubled = header.trim_end().to_string();
    doubled.insert_str(doubled.len() - 1, &format!(",{entry}"));
    doubled.push_str(&" ".repeat((8 - doubled.len() % 8) % 8));
    let mut out = (doubled.len() as u64).to_le_bytes().to_vec();
    out.extend(doubled.as_bytes());
    out.extend(&bytes[8 + len..]);
    let msg = load_error(&out);
    assert!(msg.contains("'grouping.to_q.weight' twice"), "{msg}");
}

#[test]
fn non_finite_weights_are_refused_naming_the_tensor() {
    let bytes = rewrite(&model_bytes(), |tensors, _| {
        for (n, _, _, data) in tensors.iter_mut() {
            if n == "grouping.to_k.weight" {
                data[..4].copy_from_slice(&f32::NAN.to_le_bytes());
            }
            if n == "decoder.out.bias" {
                data[..4].copy_from_slice(&f32::INFINITY.to_le_bytes());
            }
        }
    });
    let msg = load_error(&bytes);
    assert!(msg.contains("2 problem(s)"), "{msg}");
    assert!(msg.contains("tensor 'grouping.to_k.weight' holds NaN or infinite values"), "{msg}");
    assert!(msg.contains("tensor 'decoder.out.bias' holds NaN or infinite values"), "{msg}");
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
