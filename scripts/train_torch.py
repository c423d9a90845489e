#!/usr/bin/env python3
"""Train a slot model with the PyTorch reference modules, on CUDA when there
is one, from clip files (and, optionally, MuJoCo clips rendered while it
trains), then export a slotrt bundle.

The objective is the native trainer's (src/train/objective.rs): pixel
reconstruction through the decoder, plus the guided-mask term on the
model's own masks (`guided_mask_loss` below mirrors the Rust one: slots
matched to instances once per clip by space-time IoU, soft Dice per visible
matched pair plus per-pixel cross-entropy; instances left over when there are
more than slots stay out of the loss). It exists because 15 GPU minutes do
what hours of this project's CPUs do; `slotrt train` is the CPU path and
reads the same clip files.

    python scripts/train_torch.py --config models/savi-mujoco-64.train.json \
        --out out/train-mujoco --minutes 7 --device cuda

The config holds the bundle's model config (`model`), `init_from` (a bundle
whose weights start the run; K-independent weights load into any slot
count), `sources` ([{"path": DIR, "weight": w}, ...] of clip folders, see
slotrt.clips), optional `render` ({"workers": N, "frames": T, "first": I}:
render new MuJoCo train clips in background processes and add them to the
first MuJoCo source), `batch_size`, `clip_frames`, `lr` {peak, warmup_steps,
total_steps, floor_ratio}, `grad_clip`, `losses` {reconstruction, guided}.
Writes `model.safetensors` (bundle), `checkpoint.pt` (resume with --resume)
and `log.jsonl` under --out.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import threading
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bindings" / "python"))
from slotrt import torch_ref  # noqa: E402
from slotrt.clips import list_clips, load_clip  # noqa: E402


class ClipPool:
    """Clips of one source held in memory as uint8 tensors on the device."""

    def __init__(self, path, weight: float, device):
        self.path, self.weight, self.device = str(path), float(weight), device
        self.frames: list[torch.Tensor] = []
        self.ids: list[torch.Tensor] = []
        self.lock = threading.Lock()
        if path is not None:
            for p in list_clips(path):
                frames, ids = load_clip(p)
                if ids is None:
                    raise ValueError(f"{p}: field 'ids' missing: guided training needs instance ids")
                self.add(frames, ids)

    def add(self, frames: np.ndarray, ids: np.ndarray):
        f = torch.from_numpy(np.ascontiguousarray(frames)).to(self.device)
        i = torch.from_numpy(np.ascontiguousarray(ids)).to(self.device)
        with self.lock:
            self.frames.append(f)
            self.ids.append(i)

    def __len__(self):
        return len(self.frames)

    def sample(self, n: int, length: int, gen: torch.Generator):
        """n windows of `length` frames: [n, T, 3, H, W] float in 0..1 and
        [n, T, H, W] int64 ids; random horizontal flips."""
        with self.lock:
            count = len(self.frames)
            picks = torch.randint(count, (n,), generator=gen).tolist()
            chosen = [(self.frames[p], self.ids[p]) for p in picks]
        frames, ids = [], []
        for f, i in chosen:
            start = int(torch.randint(f.shape[0] - length + 1, (1,), generator=gen))
            fw, iw = f[start : start + length], i[start : start + length]
            if bool(torch.rand(1, generator=gen) < 0.5):
                fw, iw = fw.flip(2), iw.flip(2)
            frames.append(fw)
            ids.append(iw)
        frames = torch.stack(frames).permute(0, 1, 4, 2, 3).float() / 255.0
        return augment(frames, gen), torch.stack(ids).long()


def augment(frames: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Domain randomisation per clip [n, T, 3, H, W] (the same for every frame
    of a clip, so objects keep their look over time): colour channels
    permuted, brightness, contrast and saturation jittered, a little noise."""
    n = frames.shape[0]
    dev = frames.device
    perms = torch.stack([torch.randperm(3, generator=gen) for _ in range(n)]).to(dev)
    keep = (torch.rand(n, generator=gen) < 0.5).to(dev)
    perms = torch.where(keep[:, None], torch.arange(3, device=dev).expand(n, 3), perms)
    frames = torch.gather(frames, 2, perms[:, None, :, None, None].expand_as(frames))
    u = lambda lo, hi: (lo + (hi - lo) * torch.rand(n, 1, 1, 1, 1, generator=gen)).to(dev)
    grey = frames.mean(2, keepdim=True)
    frames = grey + (frames - grey) * u(0.6, 1.4)  # saturation
    mean = frames.mean((1, 2, 3, 4), keepdim=True)
    frames = mean + (frames - mean) * u(0.7, 1.3)  # contrast
    frames = frames * u(0.75, 1.25)  # brightness
    frames = frames + 0.02 * torch.randn(frames.shape, device=dev) * u(0, 1)
    return frames.clamp(0, 1)


def start_renderer(pool: ClipPool, spec: dict, stop: threading.Event):
    """Renders MuJoCo train clips in worker processes into `pool`."""
    import multiprocessing as mp

    from slotrt.mujoco_scenes import SceneConfig, render_clip

    cfg = SceneConfig(frames=int(spec.get("frames", 12)))
    first = int(spec.get("first", 100000))

    def run():
        try:
            render_into()
        except Exception as e:  # training goes on with the clips it has
            print(f"renderer stopped: {e!r}", flush=True)

    def render_into():
        ctx = mp.get_context("spawn")
        with ctx.Pool(int(spec.get("workers", 4))) as workers:
            jobs = ((("train", first + i, cfg)) for i in range(10**7))
            for clip in workers.imap_unordered(_render, jobs, chunksize=2):
                pool.add(clip.frames, clip.ids)
                if stop.is_set():
                    workers.terminate()
                    return

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def _render(job):
    from slotrt.mujoco_scenes import render_clip

    split, index, cfg = job
    return render_clip(split, index, cfg)


def guided_mask_loss(masks: torch.Tensor, ids: torch.Tensor, max_id: int) -> torch.Tensor:
    """masks [B, T, K, H, W] soft (sum 1 over K), ids [B, T, H, W] int64.
    Slots matched to instances (background included) once per clip by
    maximum space-time soft IoU (Hungarian); with more instances than slots
    the worst-matched instances stay out of the loss."""
    from scipy.optimize import linear_sum_assignment

    b, t, k, h, w = masks.shape
    m = max_id + 1
    masks = masks.flatten(3)  # [B, T, K, N]
    onehot = F.one_hot(ids.flatten(2), m).permute(0, 1, 3, 2).float()  # [B, T, M, N]
    p = masks.detach()
    inter = torch.einsum("btmn,btkn->bmk", onehot, p)
    union = onehot.sum((1, 3))[:, :, None] + p.sum((1, 3))[:, None, :] - inter
    iou = (inter / union.clamp_min(1e-6)).cpu().numpy()
    present = (onehot.sum((1, 3)) > 0).cpu().numpy()  # [B, M]
    assign = torch.zeros(b, m, k, device=masks.device)  # 1 where instance m uses slot k
    for s in range(b):
        rows = np.nonzero(present[s])[0]
        r, c = linear_sum_assignment(-iou[s][rows])
        assign[s, rows[r], c] = 1.0
    matched = assign.sum(2)  # [B, M]
    # Each instance's slot mask: [B, T, M, N]
    slot_of = torch.einsum("btkn,bmk->btmn", masks, assign)
    area = onehot.sum(3)  # [B, T, M]
    visible = (area > 0).float() * matched[:, None, :]
    dice = 2 * (slot_of * onehot).sum(3) / (slot_of.sum(3) + area).clamp_min(1e-6)
    dice_loss = ((1 - dice) * visible).sum() / visible.sum().clamp_min(1)
    covered = onehot * matched[:, None, :, None]
    log_p = torch.einsum("btkn,bmk->btmn", masks.clamp_min(1e-6).log(), assign)
    ce = -(log_p * covered).sum() / covered.sum().clamp_min(1)
    return dice_loss + ce


def fg_ari(true: torch.Tensor, pred: torch.Tensor) -> float:
    """Mean FG-ARI over frames [F, N] with objects (true ids, pred labels)."""
    from sklearn.metrics import adjusted_rand_score

    scores = []
    for ti, pi in zip(true.cpu().numpy(), pred.cpu().numpy()):
        fg = ti > 0
        if fg.sum() > 0 and len(np.unique(ti[fg])) > 0:
            scores.append(adjusted_rand_score(ti[fg], pi[fg]))
    return float(np.mean(scores)) if scores else float("nan")


def run_clip(model, frames, cfg, gen):
    """Forward a batch of clips [B, T, 3, H, W] (0..1) with carried slots."""
    pre = cfg["preprocess"]
    mean = torch.tensor(pre["mean"], device=frames.device).view(1, 3, 1, 1)
    std = torch.tensor(pre["std"], device=frames.device).view(1, 3, 1, 1)
    b, t = frames.shape[:2]
    g = cfg["grouping"]
    noise = torch.randn(b, g["num_slots"], g["slot_dim"], generator=gen, device="cpu").to(frames.device)
    init = model.init(b, noise=noise)
    outs = []
    for i in range(t):
        images = (frames[:, i] - mean) / std
        out = model.step(images, init, i == 0)
        out["images"] = images
        outs.append(out)
        init = out["next_init"]
    return outs


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--config", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--minutes", type=float, default=None, help="stop after this wall time and export")
    ap.add_argument("--steps", type=int, default=None, help="override the config's step count")
    ap.add_argument("--resume", action="store_true")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--val", default=None, help="clip folder scored every eval_every steps")
    a = ap.parse_args()

    started = time.time()
    cfg = json.loads(Path(a.config).read_text())
    mcfg = cfg["model"]
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    device = torch.device(a.device)
    torch.backends.cuda.matmul.allow_tf32 = True
    torch.backends.cudnn.allow_tf32 = True
    torch.manual_seed(a.seed)
    gen = torch.Generator().manual_seed(a.seed)

    model = torch_ref.SlotModel(mcfg)
    if cfg.get("init_from"):
        src = torch_ref.load(cfg["init_from"]).state_dict()
        own = model.state_dict()
        loaded = {k: v for k, v in src.items() if k in own and own[k].shape == v.shape}
        model.load_state_dict(loaded, strict=False)
        print(f"init_from {cfg['init_from']}: {len(loaded)}/{len(own)} tensors", flush=True)
    model.to(device)
    steps = a.steps or cfg["steps"]
    lr = cfg["lr"]
    opt = torch.optim.Adam(model.parameters(), lr=lr["peak"])
    start_step = 0
    if a.resume and (out / "checkpoint.pt").exists():
        ck = torch.load(out / "checkpoint.pt", map_location=device)
        model.load_state_dict(ck["model"])
        opt.load_state_dict(ck["opt"])
        start_step = ck["step"]
        print(f"resumed at step {start_step}", flush=True)

    pools = [ClipPool(s["path"], s["weight"], device) for s in cfg["sources"]]
    for s, p in zip(cfg["sources"], pools):
        print(f"source {s['path']}: {len(p)} clips, weight {s['weight']}", flush=True)
    stop = threading.Event()
    if cfg.get("render"):
        start_renderer(pools[cfg["render"].get("source", 0)], cfg["render"], stop)
    val = None
    if a.val:
        val = [load_clip(p) for p in list_clips(a.val)]

    weights = torch.tensor([p.weight for p in pools])
    bsz, length = cfg["batch_size"], cfg["clip_frames"]
    losses = cfg.get("losses", {"reconstruction": 1.0, "guided": 1.0})
    log = open(out / "log.jsonl", "a")
    step = start_step
    t_last = time.time()
    while step < steps:
        if a.minutes is not None and time.time() - started > a.minutes * 60:
            print(f"time budget reached at step {step}", flush=True)
            break
        # Warm-up then cosine to floor.
        if step < lr["warmup_steps"]:
            cur = lr["peak"] * (step + 1) / lr["warmup_steps"]
        else:
            prog = min(1.0, (step - lr["warmup_steps"]) / max(1, lr["total_steps"] - lr["warmup_steps"]))
            if a.minutes is not None:  # a time budget: decay over the wall time instead
                prog = min(1.0, (time.time() - started) / (a.minutes * 60))
            cur = lr["peak"] * (lr["floor_ratio"] + (1 - lr["floor_ratio"]) * 0.5 * (1 + math.cos(math.pi * prog)))
        for group in opt.param_groups:
            group["lr"] = cur
        counts = torch.multinomial(weights, bsz, replacement=True, generator=gen).bincount(minlength=len(pools))
        frames, ids = [], []
        for p, c in zip(pools, counts.tolist()):
            if c:
                f, i = p.sample(c, length, gen)
                frames.append(f)
                ids.append(i)
        # Sources may differ in size: bring every clip to the model's input.
        hw = (mcfg["preprocess"]["height"], mcfg["preprocess"]["width"])
        frames = torch.cat([f if f.shape[-2:] == hw else F.interpolate(f.flatten(0, 1), hw, mode="bilinear", antialias=True).view(*f.shape[:3], *hw) for f in frames])
        ids = torch.cat([i if i.shape[-2:] == hw else F.interpolate(i.flatten(0, 1)[:, None].float(), hw, mode="nearest").long().view(*i.shape[:2], *hw) for i in ids])
        outs = run_clip(model, frames, mcfg, gen)
        recon = torch.zeros((), device=device)
        if losses.get("reconstruction", 0) > 0:
            for o in outs:
                rec, _ = model.decoder(o["slots"])
                down = o["images"].shape[-1] // rec.shape[-1]
                target = F.avg_pool2d(o["images"], down) if down > 1 else o["images"]
                recon = recon + F.mse_loss(rec, target)
            recon = recon / len(outs)
        guided = torch.zeros((), device=device)
        if losses.get("guided", 0) > 0:
            masks = torch.stack([F.interpolate(o["attention_masks"], hw, mode="bilinear", align_corners=False) for o in outs], 1)
            guided = guided_mask_loss(masks, ids, int(ids.max()))
        loss = losses.get("reconstruction", 0) * recon + losses.get("guided", 0) * guided
        opt.zero_grad(set_to_none=True)
        loss.backward()
        gnorm = torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.get("grad_clip", 1.0))
        opt.step()
        step += 1
        if step % 50 == 0 or step == steps:
            rate = 50 / (time.time() - t_last)
            t_last = time.time()
            rec = {"step": step, "loss": loss.item(), "reconstruction": recon.item(), "guided": guided.item(),
                   "lr": cur, "grad_norm": float(gnorm), "steps_per_s": rate, "clips": [len(p) for p in pools],
                   "elapsed_s": time.time() - started}
            print(json.dumps(rec), flush=True)
            log.write(json.dumps(rec) + "\n")
            log.flush()
        if step % cfg.get("checkpoint_every", 500) == 0:
            torch.save({"model": model.state_dict(), "opt": opt.state_dict(), "step": step}, out / "checkpoint.tmp")
            os.replace(out / "checkpoint.tmp", out / "checkpoint.pt")
        if val is not None and step % cfg.get("eval_every", 500) == 0:
            print(json.dumps({"step": step, "val_fg_ari": evaluate(model, val, mcfg, device)}), flush=True)
    stop.set()
    torch.save({"model": model.state_dict(), "opt": opt.state_dict(), "step": step}, out / "checkpoint.pt")
    model.cpu()
    torch_ref.export(model, out / "model.safetensors", mcfg)
    print(f"exported {out / 'model.safetensors'} after {step} steps, {time.time() - started:.0f} s", flush=True)
    if val is not None:
        model.to(device)
        print(json.dumps({"step": step, "val_fg_ari": evaluate(model, val, mcfg, device)}), flush=True)


@torch.no_grad()
def evaluate(model, clips, cfg, device) -> float:
    """Per-frame FG-ARI of argmax bilinear attention masks (quick check; the
    reported figures come from `slotrt eval`)."""
    model.eval()
    hw = (cfg["preprocess"]["height"], cfg["preprocess"]["width"])
    scores = []
    gen = torch.Generator().manual_seed(0)
    for frames, ids in clips:
        f = torch.from_numpy(frames).to(device).permute(0, 3, 1, 2).float()[None] / 255.0
        if f.shape[-2:] != hw:
            continue
        outs = run_clip(model, f, cfg, gen)
        pred = torch.stack([F.interpolate(o["attention_masks"], hw, mode="bilinear").argmax(1)[0] for o in outs])
        scores.append(fg_ari(torch.from_numpy(ids).flatten(1), pred.flatten(1)))
    model.train()
    return float(np.nanmean(scores))


if __name__ == "__main__":
    main()
