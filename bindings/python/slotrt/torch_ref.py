"""PyTorch reference modules for slotrt's slot-model family, with the same
weight names as the native Rust model (src/model), plus the bundle exporter.

This is what a user calls after training in PyTorch (`export`), and the
parity oracle for the native implementation: the same weights must give the
same slots and masks within 1e-4 (tests/parity.rs).

Config dicts are the JSON config of a bundle (see src/model/config.rs).
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from torch import nn

FORMAT_VERSION = 1
FORMAT_KEY = "slotrt.format"
FORMAT_NAME = "slotrt-bundle"
CONFIG_KEY = "slotrt.config"


def position_grid(h: int, w: int) -> torch.Tensor:
    """[h, w, 4] grid of [y, x, 1-y, 1-x], each in linspace(0, 1)."""
    ys, xs = torch.meshgrid(torch.linspace(0, 1, h), torch.linspace(0, 1, w), indexing="ij")
    return torch.stack([ys, xs, 1 - ys, 1 - xs], dim=-1)


def mlp(dim_in: int, hidden: int, dim_out: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(dim_in, hidden), nn.ReLU(), nn.Linear(hidden, dim_out))


class CnnEncoder(nn.Module):
    def __init__(self, cfg: dict, height: int, width: int):
        super().__init__()
        convs, cin = [], 3
        for c, k, s in zip(cfg["channels"], cfg["kernel_sizes"], cfg["strides"]):
            convs.append(nn.Conv2d(cin, c, k, stride=s, padding=k // 2))
            cin = c
        self.convs = nn.ModuleList(convs)
        with torch.no_grad():
            probe = torch.zeros(1, 3, height, width)
            for conv in self.convs:
                probe = conv(probe)
        self.grid = tuple(probe.shape[-2:])
        self.register_buffer("pos_grid", position_grid(*self.grid), persistent=False)
        self.pos = nn.Linear(4, cin)
        self.norm = nn.LayerNorm(cin)
        self.mlp = mlp(cin, cin, cin)

    def forward(self, images: torch.Tensor):
        """Returns (features, tokens); for the CNN they are the same."""
        x = images
        for conv in self.convs:
            x = torch.relu(conv(x))
        x = x.permute(0, 2, 3, 1) + self.pos(self.pos_grid)
        tokens = self.mlp(self.norm(x.flatten(1, 2)))
        return tokens, tokens


def sha256_file(path) -> str:
    import hashlib

    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def make_projection(cfg: dict | None, feature_dim: int):
    """LN -> Linear -> ReLU -> Linear after a frozen backbone (DINOSAUR)."""
    if not cfg:
        return None
    projection = nn.Module()
    projection.norm = nn.LayerNorm(feature_dim)
    projection.mlp = mlp(feature_dim, cfg["hidden"], cfg["output_dim"])
    return projection


def project(projection, features):
    if projection is None:
        return features, features
    return features, projection.mlp(projection.norm(features))


class VitBlock(nn.Module):
    """timm / DINO pre-LN block: norm1, attn.{qkv, proj}, ls1, norm2, mlp.{fc1, fc2}, ls2."""

    def __init__(self, cfg: dict):
        super().__init__()
        d, eps = cfg["dim"], cfg.get("layer_norm_eps", 1e-6)
        hidden = round(d * cfg.get("mlp_ratio", 4.0))
        self.heads = cfg["heads"]
        self.norm1 = nn.LayerNorm(d, eps=eps)
        self.attn = nn.Module()
        self.attn.qkv = nn.Linear(d, 3 * d)
        self.attn.proj = nn.Linear(d, d)
        self.norm2 = nn.LayerNorm(d, eps=eps)
        self.mlp = nn.Module()
        self.mlp.fc1 = nn.Linear(d, hidden)
        self.mlp.fc2 = nn.Linear(hidden, d)
        if cfg.get("layer_scale"):
            self.ls1, self.ls2 = nn.Module(), nn.Module()
            self.ls1.gamma = nn.Parameter(torch.ones(d))
            self.ls2.gamma = nn.Parameter(torch.ones(d))
        else:
            self.ls1 = self.ls2 = None

    def forward(self, x):
        b, n, d = x.shape
        qkv = self.attn.qkv(self.norm1(x)).reshape(b, n, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        a = nn.functional.scaled_dot_product_attention(qkv[0], qkv[1], qkv[2])
        a = self.attn.proj(a.transpose(1, 2).reshape(b, n, d))
        x = x + (a * self.ls1.gamma if self.ls1 is not None else a)
        m = self.mlp.fc2(nn.functional.gelu(self.mlp.fc1(self.norm2(x))))
        return x + (m * self.ls2.gamma if self.ls2 is not None else m)


class VitEncoder(nn.Module):
    """DINO / DINOv2-layout ViT; returns the last block's patch tokens (no
    final norm, class and register tokens dropped), then the projection."""

    def __init__(self, cfg: dict, height: int, width: int):
        super().__init__()
        d, p = cfg["dim"], cfg["patch_size"]
        self.grid = (height // p, width // p)
        self.registers = cfg.get("registers", 0)
        self.patch_embed = nn.Module()
        self.patch_embed.proj = nn.Conv2d(3, d, p, stride=p)
        self.cls_token = nn.Parameter(torch.randn(1, 1, d) * 0.02)
        if self.registers:
            self.reg_token = nn.Parameter(torch.randn(1, self.registers, d) * 0.02)
        self.pos_embed = nn.Parameter(torch.randn(1, 1 + self.grid[0] * self.grid[1], d) * 0.02)
        self.blocks = nn.ModuleList([VitBlock(cfg) for _ in range(cfg["depth"])])
        self.projection = make_projection(cfg.get("projection"), d)

    def forward(self, images):
        x = self.patch_embed.proj(images).flatten(2).transpose(1, 2)
        b = x.shape[0]
        x = torch.cat([self.cls_token.expand(b, -1, -1), x], 1) + self.pos_embed
        if self.registers:
            x = torch.cat([x[:, :1], self.reg_token.expand(b, -1, -1), x[:, 1:]], 1)
        for block in self.blocks:
            x = block(x)
        return project(self.projection, x[:, 1 + self.registers:])


class TorchScriptEncoder(nn.Module):
    """A frozen TorchScript backbone (images -> tokens [B, N, C]) in a file
    beside the bundle, pinned by SHA-256, then an optional trainable
    projection LN -> Linear -> ReLU -> Linear. The backbone is deliberately
    not a registered submodule: its weights are not part of the bundle."""

    def __init__(self, cfg: dict, base_dir=None, backbone=None):
        super().__init__()
        if backbone is None:
            path = Path(base_dir or ".") / cfg["file"]
            if sha256_file(path) != cfg["sha256"]:
                raise ValueError(f"{path}: checksum mismatch")
            backbone = torch.jit.load(str(path))
        object.__setattr__(self, "backbone", backbone.eval())
        self.grid = (cfg["grid_height"], cfg["grid_width"])
        self.projection = make_projection(cfg.get("projection"), cfg["feature_dim"])

    def forward(self, images):
        with torch.no_grad():
            features = self.backbone(images)
        return project(self.projection, features)


class SlotAttention(nn.Module):
    def __init__(self, cfg: dict, input_dim: int):
        super().__init__()
        d, bias = cfg["slot_dim"], cfg.get("qkv_bias", False)
        self.cfg = cfg
        self.norm_input = nn.LayerNorm(input_dim)
        self.to_k = nn.Linear(input_dim, d, bias=bias)
        self.to_v = nn.Linear(input_dim, d, bias=bias)
        self.norm_slots = nn.LayerNorm(d)
        self.to_q = nn.Linear(d, d, bias=bias)
        self.gru = nn.GRUCell(d, d)
        if cfg.get("mlp_hidden"):
            self.norm_mlp = nn.LayerNorm(d)
            self.mlp = mlp(d, cfg["mlp_hidden"], d)
        else:
            self.mlp = None

    def forward(self, tokens, slots, iterations, active=None):
        b, n, _ = tokens.shape
        _, k, d = slots.shape
        h = self.cfg.get("heads", 1)
        hd = d // h
        x = self.norm_input(tokens)
        keys = self.to_k(x).view(b, n, h, hd)
        values = self.to_v(x).view(b, n, h, hd)
        attentions = []
        for _ in range(iterations):
            prev = slots
            normed = self.norm_slots(slots)
            q = self.to_q(normed).view(b, k, h, hd)
            logits = torch.einsum("bnhd,bkhd->bnkh", keys, q) * hd**-0.5
            if active is not None:
                logits = logits.masked_fill(~active.view(b, 1, k, 1), float("-inf"))
            attn = logits.reshape(b, n, k * h).softmax(-1).view(b, n, k, h)
            eps = self.cfg["eps"]
            if self.cfg["renormalization"] == "eps_inside":
                weights = (attn + eps) / (attn + eps).sum(1, keepdim=True)
            else:
                weights = attn / (attn.sum(1, keepdim=True) + eps)
            updates = torch.einsum("bnkh,bnhd->bkhd", weights, values).reshape(b, k, d)
            hidden = normed if self.cfg.get("gru_hidden_normalized", False) else prev
            slots = self.gru(updates.reshape(-1, d), hidden.reshape(-1, d)).view(b, k, d)
            if self.mlp is not None:
                slots = slots + self.mlp(self.norm_mlp(slots))
            attentions.append(attn.sum(-1).transpose(1, 2))
        return slots, attentions


def active_slots(slots, attention, cfg: dict):
    """DIAS redundancy reduction: [B, K] bool of slots that stay active."""
    area = attention.mean(-1)
    large = area >= cfg["area_threshold"]
    unit = slots / slots.norm(dim=-1, keepdim=True).clamp_min(1e-8)
    similarity = unit @ unit.transpose(1, 2)
    columns = [large[:, 0]]
    for j in range(1, slots.shape[1]):
        earlier = torch.stack(columns, 1)
        close = similarity[:, :j, j] > cfg["duplicate_threshold"]
        columns.append(large[:, j] & ~(earlier & close).any(1))
    active = torch.stack(columns, 1)
    none = ~active.any(1, keepdim=True)
    keep = torch.zeros_like(active).scatter(1, area.argmax(1, keepdim=True), True) & none
    return active | keep


class SlotInit(nn.Module):
    def __init__(self, cfg: dict, num_slots: int, dim: int):
        super().__init__()
        self.kind = cfg["kind"]
        if self.kind == "gaussian":
            self.mu = nn.Parameter(torch.empty(1, 1, dim))
            self.log_sigma = nn.Parameter(torch.empty(1, 1, dim))
            nn.init.xavier_uniform_(self.mu)
            nn.init.xavier_uniform_(self.log_sigma)
        elif self.kind == "learned_queries":
            self.queries = nn.Parameter(torch.empty(num_slots, dim))
            nn.init.xavier_uniform_(self.queries)
        elif self.kind == "conditional":
            self.mlp = mlp(4, cfg["hidden"], dim)
        else:
            raise ValueError(f"unknown init kind {self.kind!r}")

    def forward(self, batch: int, noise: torch.Tensor | None = None, boxes: torch.Tensor | None = None):
        if self.kind == "gaussian":
            return self.mu + self.log_sigma.exp() * noise
        if self.kind == "conditional":
            return self.mlp(boxes)
        return self.queries.unsqueeze(0).expand(batch, -1, -1)


class SpatialBroadcastDecoder(nn.Module):
    def __init__(self, cfg: dict, slot_dim: int):
        super().__init__()
        self.register_buffer(
            "grid", position_grid(cfg["broadcast_height"], cfg["broadcast_width"]), persistent=False
        )
        self.pos = nn.Linear(4, slot_dim)
        layers, cin = [], slot_dim
        for c, s in zip(cfg["channels"], cfg["strides"]):
            layers.append(nn.ConvTranspose2d(cin, c, 5, stride=s, padding=2, output_padding=s - 1))
            cin = c
        self.layers = nn.ModuleList(layers)
        self.out = nn.Conv2d(cin, 4, 3, padding=1)

    def forward(self, slots):
        b, k, d = slots.shape
        x = slots.reshape(b * k, 1, 1, d) + self.pos(self.grid)
        x = x.permute(0, 3, 1, 2)
        for layer in self.layers:
            x = torch.relu(layer(x))
        x = self.out(x)
        x = x.view(b, k, 4, *x.shape[-2:])
        masks = x[:, :, 3:].softmax(1)
        reconstruction = (masks * x[:, :, :3]).sum(1)
        return reconstruction, masks.squeeze(2)


class BroadcastMlpDecoder(nn.Module):
    """Spatial broadcast with a per-position MLP -> RGB + alpha per pixel."""

    def __init__(self, cfg: dict, slot_dim: int):
        super().__init__()
        self.register_buffer("grid", position_grid(cfg["height"], cfg["width"]), persistent=False)
        self.pos = nn.Linear(4, slot_dim)
        layers = []
        for i in range(cfg["layers"]):
            last = i + 1 == cfg["layers"]
            layers.append(nn.Linear(slot_dim if i == 0 else cfg["hidden"], 4 if last else cfg["hidden"]))
            if not last:
                layers.append(nn.ReLU())
        self.mlp = nn.Sequential(*layers)

    def forward(self, slots):
        b, k, d = slots.shape
        x = self.mlp(slots.reshape(b, k, 1, 1, d) + self.pos(self.grid)).permute(0, 1, 4, 2, 3)
        masks = x[:, :, 3:].softmax(1)
        return (masks * x[:, :, :3]).sum(1), masks.squeeze(2)


class MlpPatchDecoder(nn.Module):
    """DINOSAUR: slots broadcast to every token (+ position), MLP -> features + alpha."""

    def __init__(self, cfg: dict, slot_dim: int, grid: tuple, feature_dim: int):
        super().__init__()
        self.grid = grid
        self.pos_embed = nn.Parameter(torch.randn(1, grid[0] * grid[1], slot_dim) * 0.02)
        layers = []
        for i in range(cfg["layers"]):
            last = i + 1 == cfg["layers"]
            layers.append(nn.Linear(slot_dim if i == 0 else cfg["hidden"], feature_dim + 1 if last else cfg["hidden"]))
            if not last:
                layers.append(nn.ReLU())
        self.mlp = nn.Sequential(*layers)

    def forward(self, slots):
        b, k, _ = slots.shape
        x = self.mlp(slots.unsqueeze(2) + self.pos_embed.unsqueeze(0))
        c = x.shape[-1] - 1
        alpha = x[..., c:].softmax(1)
        reconstruction = (alpha * x[..., :c]).sum(1)
        return reconstruction, alpha.squeeze(-1).reshape(b, k, *self.grid)


class TransformerDecoder(nn.Module):
    """Per-token queries cross-attend to projected slots (+ register slots)."""

    def __init__(self, cfg: dict, slot_dim: int, grid: tuple, feature_dim: int):
        super().__init__()
        e = cfg["dim"]
        self.grid = grid
        self.slot_proj = nn.Linear(slot_dim, e)
        self.registers = (
            nn.Parameter(torch.randn(cfg["registers"], e) * 0.02) if cfg.get("registers", 0) > 0 else None
        )
        self.pos_embed = nn.Parameter(torch.randn(1, grid[0] * grid[1], e) * 0.02)
        self.norm_q = nn.LayerNorm(e)
        self.norm_kv = nn.LayerNorm(e)
        self.cross_attn = nn.MultiheadAttention(e, cfg["heads"], batch_first=True)
        self.norm_ff = nn.LayerNorm(e)
        self.mlp = mlp(e, cfg["ff_dim"], e)
        self.norm_out = nn.LayerNorm(e)
        self.out = nn.Linear(e, feature_dim)

    def forward(self, slots):
        b, k, _ = slots.shape
        kv = self.slot_proj(slots)
        if self.registers is not None:
            kv = torch.cat([kv, self.registers.unsqueeze(0).expand(b, -1, -1)], 1)
        queries = self.pos_embed.expand(b, -1, -1)
        kv = self.norm_kv(kv)
        attended, weights = self.cross_attn(
            self.norm_q(queries), kv, kv, need_weights=True, average_attn_weights=True
        )
        x = queries + attended
        x = x + self.mlp(self.norm_ff(x))
        reconstruction = self.out(self.norm_out(x))
        return reconstruction, weights[:, :, :k].transpose(1, 2).reshape(b, k, *self.grid)


def box_mean(x: torch.Tensor, r: int) -> torch.Tensor:
    """Mean of x [B, C, H, W] over (2r+1)^2 windows clipped to the image, by
    cumulative sums (He et al.'s reference box filter)."""
    def clipped_sum(t, dim):
        n = t.shape[dim]
        c = torch.cumsum(t, dim)
        c = torch.cat([torch.zeros_like(c.narrow(dim, 0, 1)), c], dim)
        hi = torch.clamp(torch.arange(n) + r + 1, max=n)
        lo = torch.clamp(torch.arange(n) - r, min=0)
        return c.index_select(dim, hi) - c.index_select(dim, lo)
    ones = torch.ones(1, 1, *x.shape[2:], dtype=x.dtype)
    return clipped_sum(clipped_sum(x, 2), 3) / clipped_sum(clipped_sum(ones, 2), 3)


def guided_filter(guide: torch.Tensor, masks: torch.Tensor, radius: int, eps: float) -> torch.Tensor:
    """Colour guided filter (He, Sun, Tang 2010) of soft masks [B, K, h, w]
    guided by images [B, 3, H, W] in [0, 1]: the reference for
    src/model/refine/ (masks upsampled bilinearly first, then filtered,
    clipped at 0 and renormalised over K)."""
    b, _, h, w = guide.shape
    p = masks if masks.shape[-2:] == (h, w) else nn.functional.interpolate(
        masks, size=(h, w), mode="bilinear", align_corners=False)
    k = p.shape[1]
    mean_i, mean_p = box_mean(guide, radius), box_mean(p, radius)
    corr_ii = box_mean(torch.einsum("bchw,bdhw->bcdhw", guide, guide).reshape(b, 9, h, w), radius)
    sigma = corr_ii.reshape(b, 3, 3, h, w) - mean_i[:, :, None] * mean_i[:, None]
    sigma = sigma.permute(0, 3, 4, 1, 2) + eps * torch.eye(3)  # [B, H, W, 3, 3]
    corr_ip = box_mean(torch.einsum("bchw,bkhw->bckhw", guide, p).reshape(b, 3 * k, h, w), radius)
    cov = corr_ip.reshape(b, 3, k, h, w) - mean_i[:, :, None] * mean_p[:, None]
    a = torch.linalg.solve(sigma, cov.permute(0, 3, 4, 1, 2))  # [B, H, W, 3, K]
    a = a.permute(0, 3, 4, 1, 2)  # [B, 3, K, H, W]
    offset = mean_p - (a * mean_i[:, :, None]).sum(1)
    mean_a = box_mean(a.reshape(b, 3 * k, h, w), radius).reshape(b, 3, k, h, w)
    q = ((mean_a * guide[:, :, None]).sum(1) + box_mean(offset, radius)).clamp_min(0)
    return q / q.sum(1, keepdim=True).clamp_min(1e-8)


class SlotModel(nn.Module):
    """encoder -> grouping (init = carried slots) -> predictor; decoder."""

    def __init__(self, config: dict, base_dir=None, backbone=None):
        """`base_dir` locates a TorchScript encoder's file; or pass the
        traced `backbone` itself."""
        super().__init__()
        self.config = config
        pre, g, enc = config["preprocess"], config["grouping"], config["encoder"]
        if enc["kind"] == "cnn":
            self.encoder = CnnEncoder(enc, pre["height"], pre["width"])
            feature_dim = token_dim = enc["channels"][-1]
        elif enc["kind"] == "vit":
            self.encoder = VitEncoder(enc, pre["height"], pre["width"])
            feature_dim = enc["dim"]
            token_dim = enc["projection"]["output_dim"] if enc.get("projection") else feature_dim
        elif enc["kind"] == "torch_script":
            self.encoder = TorchScriptEncoder(enc, base_dir, backbone)
            feature_dim = enc["feature_dim"]
            token_dim = enc["projection"]["output_dim"] if enc.get("projection") else feature_dim
        else:
            raise ValueError(f"unsupported encoder {enc['kind']!r}")
        self.grouping = SlotAttention(g, token_dim)
        self.init = SlotInit(config["init"], g["num_slots"], g["slot_dim"])
        pr = config.get("predictor")
        self.predictor = (
            nn.TransformerEncoderLayer(
                g["slot_dim"], pr["heads"], pr["ff_dim"], dropout=0.0,
                batch_first=True, norm_first=pr["pre_norm"],
            )
            if pr
            else None
        )
        dec = config["decoder"]
        if dec["kind"] == "spatial_broadcast":
            self.decoder = SpatialBroadcastDecoder(dec, g["slot_dim"])
        elif dec["kind"] == "broadcast_mlp":
            self.decoder = BroadcastMlpDecoder(dec, g["slot_dim"])
        elif dec["kind"] == "mlp_patch":
            self.decoder = MlpPatchDecoder(dec, g["slot_dim"], self.encoder.grid, feature_dim)
        elif dec["kind"] == "transformer":
            self.decoder = TransformerDecoder(dec, g["slot_dim"], self.encoder.grid, feature_dim)
        else:
            raise ValueError(f"unknown decoder kind {dec['kind']!r}")

    def normalize(self, images01):
        pre = self.config["preprocess"]
        mean = torch.tensor(pre["mean"]).view(1, 3, 1, 1)
        std = torch.tensor(pre["std"]).view(1, 3, 1, 1)
        return (images01 - mean) / std

    def step(self, images, init, first_frame: bool):
        g = self.config["grouping"]
        features, tokens = self.encoder(images)
        iters = g["iters_first"] if first_frame else g["iters_later"]
        slots, attentions = self.grouping(tokens, init, iters)
        b, k = slots.shape[:2]
        active = torch.ones(b, k, dtype=torch.bool, device=slots.device)
        if self.config.get("dias"):
            active = active_slots(slots, attentions[-1], self.config["dias"])
            again, again_attn = self.grouping(tokens, slots, 1, active)
            slots = torch.where(~active.unsqueeze(-1), slots, again)
            attentions = attentions + again_attn
        h, w = self.encoder.grid
        next_init = self.predictor(slots) if self.predictor is not None else slots
        return {
            "features": features,
            "slots": slots,
            "attention_masks": attentions[-1].reshape(slots.shape[0], slots.shape[1], h, w),
            "attention": attentions,
            "next_init": next_init,
            "active": active,
        }


def export(model: SlotModel, path, config: dict | None = None, description: str = "") -> None:
    """Writes `model` as a slotrt bundle (float32 safetensors + JSON config)."""
    from safetensors.torch import save_file

    config = json.loads(json.dumps(config or model.config))
    config.setdefault("format_version", FORMAT_VERSION)
    if config["encoder"]["kind"] == "torch_script":
        # The frozen backbone travels as a sidecar file, pinned by checksum.
        sidecar = Path(path).parent / config["encoder"]["file"]
        torch.jit.save(model.encoder.backbone, str(sidecar))
        config["encoder"]["sha256"] = sha256_file(sidecar)
    if description:
        config["description"] = description
    tensors = {k: v.detach().to(torch.float32).contiguous().cpu() for k, v in model.state_dict().items()}
    save_file(tensors, str(path), metadata={FORMAT_KEY: FORMAT_NAME, CONFIG_KEY: json.dumps(config)})


def load(path) -> SlotModel:
    """Reads a slotrt bundle into the reference modules (strict)."""
    from safetensors import safe_open

    with safe_open(str(Path(path)), framework="pt") as f:
        meta = f.metadata() or {}
        if meta.get(FORMAT_KEY) != FORMAT_NAME:
            raise ValueError(f"{path}: not a slotrt bundle")
        config = json.loads(meta[CONFIG_KEY])
        state = {k: f.get_tensor(k) for k in f.keys()}
    model = SlotModel(config, base_dir=Path(path).parent)
    model.load_state_dict(state, strict=True)
    return model
