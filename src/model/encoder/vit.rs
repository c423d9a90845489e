//! A ViT patch encoder with timm/DINO weight names, so DINO-style backbones
//! run natively: patch embedding, class token, optional register tokens,
//! pre-LN blocks (optional LayerScale). The output is the last block's
//! patch tokens without the final norm; class and register tokens are
//! dropped. Frozen: its weights are loaded, never trained.

use tch::nn;
use tch::{Kind, Tensor};

use crate::model::config::VitEncoderConfig;

/// A frozen (non-trainable) variable, filled by the bundle loader.
fn frozen(vs: &nn::Path, name: &str, dims: &[i64]) -> Tensor {
    vs.zeros_no_train(name, dims)
}

#[derive(Debug)]
struct Linear {
    weight: Tensor,
    bias: Tensor,
}

impl Linear {
    fn new(vs: nn::Path, input: i64, output: i64) -> Self {
        Linear { weight: frozen(&vs, "weight", &[output, input]), bias: frozen(&vs, "bias", &[output]) }
    }

    fn forward(&self, x: &Tensor) -> Tensor {
        x.linear(&self.weight, Some(&self.bias))
    }
}

#[derive(Debug)]
struct LayerNorm {
    weight: Tensor,
    bias: Tensor,
    eps: f64,
}

impl LayerNorm {
    fn new(vs: nn::Path, dim: i64, eps: f64) -> Self {
        LayerNorm { weight: frozen(&vs, "weight", &[dim]), bias: frozen(&vs, "bias", &[dim]), eps }
    }

    fn forward(&self, x: &Tensor) -> Tensor {
        let dim = self.weight.size()[0];
        x.layer_norm([dim], Some(&self.weight), Some(&self.bias), self.eps, false)
    }
}

#[derive(Debug)]
struct Block {
    norm1: LayerNorm,
    qkv: Linear,
    proj: Linear,
    ls1: Option<Tensor>,
    norm2: LayerNorm,
    fc1: Linear,
    fc2: Linear,
    ls2: Option<Tensor>,
    heads: i64,
}

impl Block {
    fn new(vs: nn::Path, c: &VitEncoderConfig) -> Self {
        let d = c.dim;
        let hidden = c.mlp_hidden();
        Block {
            norm1: LayerNorm::new(&vs / "norm1", d, c.layer_norm_eps),
            qkv: Linear::new(&vs / "attn" / "qkv", d, 3 * d),
            proj: Linear::new(&vs / "attn" / "proj", d, d),
            ls1: c.layer_scale.then(|| frozen(&(&vs / "ls1"), "gamma", &[d])),
            norm2: LayerNorm::new(&vs / "norm2", d, c.layer_norm_eps),
            fc1: Linear::new(&vs / "mlp" / "fc1", d, hidden),
            fc2: Linear::new(&vs / "mlp" / "fc2", hidden, d),
            ls2: c.layer_scale.then(|| frozen(&(&vs / "ls2"), "gamma", &[d])),
            heads: c.heads,
        }
    }

    fn attention(&self, x: &Tensor) -> Tensor {
        let (b, n, d) = x.size3().expect("[B, N, D]");
        let h = self.heads;
        let qkv = self.qkv.forward(x).reshape([b, n, 3, h, d / h]).permute([2, 0, 3, 1, 4]);
        let (q, k, v) = (qkv.get(0), qkv.get(1), qkv.get(2));
        let attn = (q.matmul(&k.transpose(-2, -1)) * ((d / h) as f64).powf(-0.5)).softmax(-1, Kind::Float);
        self.proj.forward(&attn.matmul(&v).transpose(1, 2).reshape([b, n, d]))
    }

    fn forward(&self, x: &Tensor) -> Tensor {
        let scale = |t: Tensor, ls: &Option<Tensor>| match ls {
            Some(gamma) => t * gamma,
            None => t,
        };
        let x = x + scale(self.attention(&self.norm1.forward(x)), &self.ls1);
        let mlp = self.fc2.forward(&self.fc1.forward(&self.norm2.forward(&x)).gelu("none"));
        &x + scale(mlp, &self.ls2)
    }
}

#[derive(Debug)]
pub struct VitEncoder {
    patch_weight: Tensor,
    patch_bias: Tensor,
    cls_token: Tensor,
    reg_token: Option<Tensor>,
    pos_embed: Tensor,
    blocks: Vec<Block>,
    patch_size: i64,
}

impl VitEncoder {
    /// Weights: patch_embed.proj, cls_token, reg_token, pos_embed [1, 1+N, D],
    /// blocks.{i}.{norm1, attn.qkv, attn.proj, ls1.gamma, norm2, mlp.fc1,
    /// mlp.fc2, ls2.gamma}.
    pub fn new(vs: nn::Path, c: &VitEncoderConfig, height: i64, width: i64) -> Self {
        let (d, p) = (c.dim, c.patch_size);
        let tokens = (height / p) * (width / p);
        let patch = &vs / "patch_embed" / "proj";
        VitEncoder {
            patch_weight: frozen(&patch, "weight", &[d, 3, p, p]),
            patch_bias: frozen(&patch, "bias", &[d]),
            cls_token: frozen(&vs, "cls_token", &[1, 1, d]),
            reg_token: (c.registers > 0).then(|| frozen(&vs, "reg_token", &[1, c.registers, d])),
            pos_embed: frozen(&vs, "pos_embed", &[1, 1 + tokens, d]),
            blocks: (0..c.depth).map(|i| Block::new(&vs / "blocks" / i, c)).collect(),
            patch_size: p,
        }
    }

    /// Normalised images [B, 3, H, W] -> patch tokens [B, N, D].
    pub fn forward(&self, images: &Tensor) -> Tensor {
        tch::no_grad(|| {
            let p = self.patch_size;
            let x = images.conv2d(&self.patch_weight, Some(&self.patch_bias), [p, p], [0, 0], [1, 1], 1);
            let x = x.flatten(2, 3).transpose(1, 2); // [B, N, D]
            let (b, _, d) = x.size3().expect("[B, N, D]");
            let cls = self.cls_token.expand([b, 1, d], false);
            let mut x = Tensor::cat(&[cls, x], 1) + &self.pos_embed;
            let extra = match &self.reg_token {
                Some(reg) => {
                    let r = reg.size()[1];
                    x = Tensor::cat(
                        &[x.narrow(1, 0, 1), reg.expand([b, r, d], false), x.narrow(1, 1, x.size()[1] - 1)],
                        1,
                    );
                    1 + r
                }
                None => 1,
            };
            for block in &self.blocks {
                x = block.forward(&x);
            }
            let n = x.size()[1] - extra;
            x.narrow(1, extra, n)
        })
    }
}

#[cfg(test)]
mod tests {
    use crate::model::config::{EncoderConfig, ProjectionConfig, VitEncoderConfig};
    use crate::model::{ModelConfig, SlotModel};

    #[test]
    fn vit_weights_are_frozen_but_its_projection_trains() {
        let mut config = ModelConfig::savi_small_64();
        config.encoder = EncoderConfig::Vit(VitEncoderConfig {
            patch_size: 16,
            dim: 32,
            depth: 1,
            heads: 2,
            mlp_ratio: 2.0,
            registers: 0,
            layer_scale: false,
            layer_norm_eps: 1e-6,
            projection: Some(ProjectionConfig { hidden: 16, output_dim: 16 }),
        });
        let model = SlotModel::new(&config, tch::Device::Cpu).unwrap();
        let all = model.vs.variables();
        let trainable: Vec<tch::Tensor> = model.vs.trainable_variables();
        let frozen: Vec<&String> =
            all.keys().filter(|k| k.starts_with("encoder.") && !k.starts_with("encoder.projection.")).collect();
        assert!(frozen.iter().any(|k| k.as_str() == "encoder.blocks.0.attn.qkv.weight"), "{frozen:?}");
        assert_eq!(trainable.len(), all.len() - frozen.len());
        assert_eq!(model.mask_grid(), (4, 4));
    }
}
