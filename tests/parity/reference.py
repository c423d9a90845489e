"""Writes a parity case for tests/parity.rs: a random model exported from the
PyTorch reference modules as a slotrt bundle, fixed inputs, and the
reference outputs of a clip with slot carry-over.

    python tests/parity/reference.py VARIANT OUT_DIR

OUT_DIR/model.safetensors is the bundle (plus OUT_DIR/encoder.pt for the
TorchScript variant); OUT_DIR/case.safetensors holds
frames [T, B, 3, H, W] (normalised), noise [B, K, D] (Gaussian init) and per
frame t: slots_t, attention_masks_t, next_init_t, decoder_masks_t,
reconstruction_t.
"""

import copy
import sys
from pathlib import Path

import torch
from safetensors.torch import save_file

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bindings" / "python"))
from slotrt import torch_ref  # noqa: E402

BASE = {
    "format_version": 1,
    "description": "parity test model (random weights)",
    "preprocess": {"height": 32, "width": 32, "mean": [0.5, 0.4, 0.3], "std": [0.5, 0.6, 0.7]},
    "encoder": {"kind": "cnn", "channels": [16, 24, 24, 32], "kernel_sizes": [5, 3, 3, 3], "strides": [1, 2, 1, 1]},
    "grouping": {
        "num_slots": 5, "slot_dim": 32, "iters_first": 3, "iters_later": 2,
        "renormalization": "eps_inside", "eps": 1e-8, "qkv_bias": False,
        "gru_hidden_normalized": False, "mlp_hidden": 64, "heads": 1,
    },
    "init": {"kind": "gaussian"},
    "predictor": None,
    "decoder": {"kind": "spatial_broadcast", "broadcast_height": 8, "broadcast_width": 8,
                "channels": [24, 16], "strides": [2, 2]},
}


class TinyBackbone(torch.nn.Module):
    """A stand-in for a big pretrained backbone: 4x4 patches -> 24 channels."""

    def __init__(self):
        super().__init__()
        self.patch = torch.nn.Conv2d(3, 24, 4, stride=4)

    def forward(self, images):
        return torch.nn.functional.gelu(self.patch(images)).flatten(2).transpose(1, 2)


def variant(name: str) -> tuple[dict, int]:
    """Config and number of frames for each variant combination tested."""
    c = copy.deepcopy(BASE)
    g = c["grouping"]
    if name == "vanilla":  # Slot Attention + spatial-broadcast decoder, image model
        return c, 2
    if name == "savi":  # SAVi: post-LN predictor carries slots over 8 frames
        g.update(renormalization="eps_outside", qkv_bias=True, mlp_hidden=None, iters_later=1)
        c["predictor"] = {"heads": 4, "ff_dim": 64, "pre_norm": False}
        return c, 8
    if name == "queries":  # learned queries, VideoSAUR-style pre-LN predictor, heads
        g.update(gru_hidden_normalized=True, heads=2, eps=1e-6)
        c["init"] = {"kind": "learned_queries"}
        c["predictor"] = {"heads": 2, "ff_dim": 96, "pre_norm": True}
        return c, 4
    if name == "conditional":  # SAVi conditional init from first-frame boxes
        c["init"] = {"kind": "conditional", "hidden": 48}
        c["predictor"] = {"heads": 4, "ff_dim": 64, "pre_norm": False}
        return c, 3
    if name == "mlp_patch":  # DINOSAUR-style MLP patch decoder over encoder features
        c["decoder"] = {"kind": "mlp_patch", "hidden": 48, "layers": 3}
        return c, 2
    if name == "transformer":  # transformer decoder with CODA register slots
        c["decoder"] = {"kind": "transformer", "dim": 32, "heads": 4, "ff_dim": 64, "registers": 2}
        c["predictor"] = {"heads": 4, "ff_dim": 64, "pre_norm": True}
        return c, 3
    if name == "torchscript":  # frozen TorchScript backbone + projection
        c["encoder"] = {
            "kind": "torch_script", "file": "encoder.pt", "sha256": "0" * 64,
            "feature_dim": 24, "grid_height": 8, "grid_width": 8,
            "projection": {"hidden": 48, "output_dim": 32},
        }
        c["decoder"] = {"kind": "mlp_patch", "hidden": 48, "layers": 3}
        return c, 2
    if name == "vit":  # DINOv2-style ViT (registers, LayerScale) + projection
        c["encoder"] = {
            "kind": "vit", "patch_size": 8, "dim": 32, "depth": 2, "heads": 4,
            "registers": 2, "layer_scale": True,
            "projection": {"hidden": 48, "output_dim": 32},
        }
        c["decoder"] = {"kind": "mlp_patch", "hidden": 48, "layers": 3}
        return c, 2
    if name == "broadcast_mlp":  # spatial broadcast with a per-position MLP, at half resolution
        c["decoder"] = {"kind": "broadcast_mlp", "height": 16, "width": 16, "hidden": 32, "layers": 3}
        return c, 2
    if name == "dias":  # DIAS reduction + re-initialised aggregation, SAVi-style video
        c["dias"] = {"area_threshold": 0.19, "duplicate_threshold": 0.95}
        c["predictor"] = {"heads": 4, "ff_dim": 64, "pre_norm": False}
        return c, 4
    raise SystemExit(f"unknown variant {name!r}")


def main() -> None:
    name, out = sys.argv[1], Path(sys.argv[2])
    out.mkdir(parents=True, exist_ok=True)
    config, frames = variant(name)
    torch.manual_seed(0)
    backbone = None
    if config["encoder"]["kind"] == "torch_script":
        backbone = torch.jit.trace(TinyBackbone().eval(), torch.zeros(1, 3, 32, 32))
    model = torch_ref.SlotModel(config, backbone=backbone).eval()
    with torch.no_grad():
        # Perturb every weight so default inits (LayerNorm 1/0, zero biases)
        # cannot hide a naming or ordering mistake.
        for p in model.parameters():
            p.add_(0.1 * torch.randn_like(p))
    torch_ref.export(model, out / "model.safetensors")

    g = config["grouping"]
    batch = 2
    frames01 = torch.rand(frames, batch, 3, 32, 32)
    images = torch.stack([model.normalize(f) for f in frames01])
    noise = torch.randn(batch, g["num_slots"], g["slot_dim"])
    case = {"frames": images, "noise": noise}
    boxes = None
    if config["init"]["kind"] == "conditional":
        corners = torch.rand(batch, g["num_slots"], 2, 2).sort(dim=2).values  # min <= max
        boxes = corners.reshape(batch, g["num_slots"], 4)  # y_min, x_min, y_max, x_max
        boxes[:, 0] = 0.0  # the background slot gets the zero box
        case["boxes"] = boxes
    with torch.no_grad():
        init = model.init(batch, noise, boxes)
        for t in range(frames):
            step = model.step(images[t], init, first_frame=(t == 0))
            reconstruction, masks = model.decoder(step["slots"])
            case[f"slots_{t}"] = step["slots"]
            case[f"attention_masks_{t}"] = step["attention_masks"]
            case[f"next_init_{t}"] = step["next_init"]
            case[f"features_{t}"] = step["features"]
            case[f"active_{t}"] = step["active"].to(torch.float32)
            case[f"decoder_masks_{t}"] = masks
            case[f"reconstruction_{t}"] = reconstruction
            init = step["next_init"]
    save_file({k: v.clone().contiguous() for k, v in case.items()}, str(out / "case.safetensors"))


if __name__ == "__main__":
    main()
