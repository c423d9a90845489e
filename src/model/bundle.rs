//! The model bundle: one safetensors file whose metadata holds the model's
//! JSON config. Loading is strict and reports every problem at once (missing,
//! unexpected, wrongly shaped or typed tensors); saving round-trips
//! bit-exactly.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use safetensors::tensor::{Dtype, SafeTensors, TensorView};

use tch::{Device, Kind, Tensor};

use super::config::ModelConfig;
use super::limits;
use super::slot_model::SlotModel;
use crate::error::{Error, Result};

/// Metadata key holding the JSON config.
pub const CONFIG_KEY: &str = "slotrt.config";
/// Metadata key marking the file as a slotrt bundle.
pub const FORMAT_KEY: &str = "slotrt.format";
pub const FORMAT_NAME: &str = "slotrt-bundle";

/// Reads a bundle's config without building the model.
pub fn read_config(bytes: &[u8]) -> Result<ModelConfig> {
    let (_, metadata) = SafeTensors::read_metadata(bytes)
        .map_err(|e| Error::BadModel(format!("not a safetensors file, or truncated: {e}")))?;
    let info = metadata
        .metadata()
        .as_ref()
        .ok_or_else(|| Error::BadModel("safetensors file has no metadata: not a slotrt bundle".into()))?;
    match info.get(FORMAT_KEY).map(String::as_str) {
        Some(FORMAT_NAME) => {}
        Some(other) => {
            return Err(Error::BadModel(format!("metadata {FORMAT_KEY} is '{other}', expected '{FORMAT_NAME}'")))
        }
        None => return Err(Error::BadModel(format!("metadata has no {FORMAT_KEY}: not a slotrt bundle"))),
    }
    let json = info.get(CONFIG_KEY).ok_or_else(|| Error::BadModel(format!("metadata has no {CONFIG_KEY}")))?;
    ModelConfig::from_json(json)
}

/// Builds the model a bundle describes and fills its weights. Files the
/// config names (a TorchScript encoder) need `load`, which knows the
/// bundle's directory.
pub fn load_bytes(bytes: &[u8], device: Device) -> Result<SlotModel> {
    load_bytes_in(bytes, device, None)
}

fn load_bytes_in(bytes: &[u8], device: Device, base_dir: Option<&Path>) -> Result<SlotModel> {
    let config = read_config(bytes)?;
    let tensors = SafeTensors::deserialize(bytes)
        .map_err(|e| Error::BadModel(format!("not a safetensors file, or truncated: {e}")))?;
    // The header is a JSON object and a parser keeps only one of two equal
    // keys: a file naming a tensor twice is refused, not half-read.
    check_unique_header_keys(bytes)?;
    // Before any weight is allocated: the weights the config implies must
    // be in the file, so a config cannot ask for more memory than the file
    // honestly backs.
    let held: u64 = tensors.tensors().iter().map(|(_, v)| v.shape().iter().product::<usize>() as u64).sum();
    let implied = limits::weights_lower_bound(&config);
    if implied > held {
        return Err(Error::BadModel(format!(
            "the config implies at least {implied} weights but the file holds {held}: sizes in the config are wrong"
        )));
    }
    let mut model = SlotModel::with_base_dir(&config, device, base_dir)?;
    let expected = model.vs.variables();
    let mut problems = Vec::new();
    let file: HashMap<String, TensorView> = tensors.tensors().into_iter().collect();
    let mut names: Vec<&String> = expected.keys().collect();
    names.sort();
    for name in &names {
        let var = &expected[*name];
        let Some(view) = file.get(*name) else {
            problems.push(format!("missing tensor '{name}' (shape {:?})", var.size()));
            continue;
        };
        if view.dtype() != Dtype::F32 {
            problems.push(format!("tensor '{name}' has dtype {:?}, expected F32", view.dtype()));
        }
        let shape: Vec<i64> = view.shape().iter().map(|&d| d as i64).collect();
        if shape != var.size() {
            problems.push(format!("tensor '{name}' has shape {shape:?}, expected {:?}", var.size()));
        }
    }
    let mut unexpected: Vec<&String> = file.keys().filter(|k| !expected.contains_key(*k)).collect();
    unexpected.sort();
    problems.extend(unexpected.iter().map(|name| format!("unexpected tensor '{name}'")));
    if !problems.is_empty() {
        return Err(Error::BadModel(format!("{} problem(s): {}", problems.len(), problems.join("; "))));
    }
    let mut non_finite = Vec::new();
    tch::no_grad(|| {
        for name in names {
            let view = &file[name];
            let shape: Vec<i64> = view.shape().iter().map(|&d| d as i64).collect();
            let data = Tensor::from_data_size(view.data(), &shape, Kind::Float);
            if data.isfinite().all().int64_value(&[]) == 0 {
                non_finite.push(format!("tensor '{name}' holds NaN or infinite values"));
            }
            let mut var = expected[name].shallow_clone();
            var.copy_(&data);
        }
    });
    if !non_finite.is_empty() {
        return Err(Error::BadModel(format!("{} problem(s): {}", non_finite.len(), non_finite.join("; "))));
    }
    model.vs.set_kind(Kind::Float);
    Ok(model)
}

/// Refuses a safetensors header that names a key twice.
fn check_unique_header_keys(bytes: &[u8]) -> Result<()> {
    use serde::de::{Deserializer, IgnoredAny, MapAccess, Visitor};
    struct UniqueKeys;
    impl<'de> Visitor<'de> for UniqueKeys {
        type Value = Option<String>;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a JSON object")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> std::result::Result<Self::Value, A::Error> {
            let mut seen = std::collections::HashSet::new();
            let mut duplicate = None;
            while let Some(key) = map.next_key::<String>()? {
                map.next_value::<IgnoredAny>()?;
                if !seen.insert(key.clone()) && duplicate.is_none() {
                    duplicate = Some(key);
                }
            }
            Ok(duplicate)
        }
    }
    // Deserialisation succeeded, so the length prefix and header are sound.
    let len = u64::from_le_bytes(bytes[..8].try_into().expect("8 bytes")) as usize;
    let header = &bytes[8..8 + len];
    let duplicate = serde_json::Deserializer::from_slice(header)
        .deserialize_map(UniqueKeys)
        .map_err(|e| Error::BadModel(format!("safetensors header: {e}")))?;
    match duplicate {
        Some(key) => Err(Error::BadModel(format!("safetensors header names '{key}' twice"))),
        None => Ok(()),
    }
}

/// Loads a bundle file.
pub fn load(path: &Path, device: Device) -> Result<SlotModel> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    load_bytes_in(&bytes, device, Some(path.parent().unwrap_or(Path::new("."))))
}

/// Serialises a model's config and weights (float32, little-endian).
///
/// Written here rather than with `safetensors::serialize`, whose metadata
/// map has no fixed order: tensors are sorted by name and JSON keys are
/// sorted, so the same model always gives the same bytes.
pub fn to_bytes(model: &SlotModel) -> Result<Vec<u8>> {
    let vars: BTreeMap<String, Tensor> = model.vs.variables().into_iter().collect();
    let mut header = serde_json::Map::new();
    let metadata = serde_json::json!({
        FORMAT_KEY: FORMAT_NAME,
        CONFIG_KEY: model.config.to_json(),
    });
    header.insert("__metadata__".into(), metadata);
    let mut data = Vec::new();
    for (name, var) in &vars {
        let cpu = var.to_device(Device::Cpu).to_kind(Kind::Float).contiguous();
        let numel = cpu.numel();
        let mut values = vec![0f32; numel];
        cpu.f_copy_data(&mut values, numel)?;
        let start = data.len();
        data.extend(values.iter().flat_map(|v| v.to_le_bytes()));
        header.insert(
            name.clone(),
            serde_json::json!({ "dtype": "F32", "shape": cpu.size(), "data_offsets": [start, data.len()] }),
        );
    }
    let mut header = serde_json::to_vec(&header).map_err(|e| Error::Internal(e.to_string()))?;
    // The format pads the header with spaces to a multiple of 8 bytes.
    header.resize(header.len().div_ceil(8) * 8, b' ');
    let mut bytes = Vec::with_capacity(8 + header.len() + data.len());
    bytes.extend((header.len() as u64).to_le_bytes());
    bytes.extend(header);
    bytes.extend(data);
    Ok(bytes)
}

/// Writes a bundle file (atomically: a temporary file renamed into place).
pub fn save(model: &SlotModel, path: &Path) -> Result<()> {
    let bytes = to_bytes(model)?;
    let tmp = path.with_extension("safetensors.tmp");
    std::fs::write(&tmp, bytes).map_err(|e| Error::io(&tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| Error::io(path, e))
}
