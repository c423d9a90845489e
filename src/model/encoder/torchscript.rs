//! A frozen backbone exported from PyTorch as TorchScript, stored beside the
//! bundle and pinned by its SHA-256, for backbones nobody should have to
//! re-implement. Contract: images [B, 3, H, W] -> tokens [B, N, C].

use std::path::Path;

use sha2::{Digest, Sha256};
use tch::{CModule, Device, Tensor};

use crate::error::{Error, Result};
use crate::model::config::TorchScriptEncoderConfig;

#[derive(Debug)]
pub struct TorchScriptEncoder {
    module: CModule,
}

/// Lower-case hex SHA-256 of a file's bytes.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

impl TorchScriptEncoder {
    pub fn load(config: &TorchScriptEncoderConfig, base_dir: Option<&Path>, device: Device) -> Result<Self> {
        let file = Path::new(&config.file);
        let path = match base_dir {
            Some(dir) if file.is_relative() => dir.join(file),
            None if file.is_relative() => {
                return Err(Error::BadModel(format!(
                    "encoder.file '{}' is relative but the bundle was not loaded from a file",
                    config.file
                )))
            }
            _ => file.to_path_buf(),
        };
        let bytes =
            std::fs::read(&path).map_err(|e| Error::BadModel(format!("encoder.file '{}': {e}", path.display())))?;
        let digest = sha256_hex(&bytes);
        if !digest.eq_ignore_ascii_case(&config.sha256) {
            return Err(Error::BadModel(format!(
                "encoder.file '{}': checksum mismatch (sha256 {digest}, config says {})",
                path.display(),
                config.sha256
            )));
        }
        let mut module = CModule::load_data_on_device(&mut bytes.as_slice(), device)
            .map_err(|e| Error::BadModel(format!("encoder.file '{}' is not TorchScript: {e}", path.display())))?;
        module.set_eval();
        Ok(TorchScriptEncoder { module })
    }

    /// Runs the backbone without gradients (it is frozen) and checks its
    /// output against the config's grid and feature size.
    pub fn forward(&self, images: &Tensor, grid: (i64, i64), feature_dim: i64) -> Result<Tensor> {
        let out = tch::no_grad(|| self.module.forward_ts(&[images]))?;
        let b = images.size()[0];
        let expected = [b, grid.0 * grid.1, feature_dim];
        if out.size() != expected {
            return Err(Error::BadModel(format!(
                "TorchScript encoder returned shape {:?}, the config promises {expected:?}",
                out.size()
            )));
        }
        Ok(out.to_kind(super::FLOAT))
    }
}
