"""Peer benchmark: slotrt (through its C API) vs PyTorch eager vs ONNX
Runtime on the same weights and the same frames, in one process run.

Every peer does the same work per call, what a session serves: B uint8 RGB
frames -> normalise -> encoder -> Slot Attention from carried slots
(iters_later) -> predictor -> masks, outputs back in host memory. The masks
are, by default (`--masks served`), the bundle's own: for the shipped model
its Slot Attention masks refined at 64x64 by its colour guided filter;
`--masks decoder` times the decoder's masks instead. Outputs are checked to
agree before anything is timed; timings are interleaved (peers in a
shuffled order in every round) so machine noise hits all of them alike, and
medians are reported, one line per case. Under precision=bf16, slotrt runs
its convolutions in bf16 and eager runs under torch.autocast(bf16); ONNX
Runtime has no bf16 CPU kernels and stays fp32 (the baseline to beat):

peer-ratio batch=<B> precision=<p> slotrt_ms=<x> onnxruntime_ms=<y> eager_ms=<z> ratio_vs_onnxruntime=<x/y>
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from pathlib import Path

import numpy as np
import onnxruntime as ort
import torch
from torch import nn

import slotrt
from slotrt import torch_ref

ROOT = Path(__file__).resolve().parents[1]


class FrameStep(nn.Module):
    """One continuing frame as the runtime does it, for eager and ONNX."""

    def __init__(self, ref: torch_ref.SlotModel, masks: str):
        super().__init__()
        self.ref = ref
        refine = ref.config.get("refine") if masks == "served" else None
        self.source = ref.config.get("masks", "decoder") if masks == "served" else "decoder"
        self.filter = (refine["radius"], refine["eps"]) if refine else None

    def forward(self, frames_u8, init):
        images01 = frames_u8.permute(0, 3, 1, 2).float() / 255.0
        out = self.ref.step(self.ref.normalize(images01), init, first_frame=False)
        masks = out["attention_masks"] if self.source == "attention" else self.ref.decoder(out["slots"])[1]
        if self.filter:
            masks = guided_filter(images01, masks, *self.filter)
        return out["slots"], masks, out["next_init"]


def guided_filter(guide, masks, radius: int, eps: float):
    """torch_ref.guided_filter in ops ONNX has (a window mean by average
    pooling, the 3x3 solve by its adjugate), for eager and ONNX alike."""
    b, _, h, w = guide.shape
    k = masks.shape[1]
    mean = lambda x: nn.functional.avg_pool2d(x, 2 * radius + 1, 1, radius, count_include_pad=False)
    p = nn.functional.interpolate(masks, size=(h, w), mode="bilinear", align_corners=False)
    r, g, bl = guide[:, 0:1], guide[:, 1:2], guide[:, 2:3]
    mean_i, mean_p = mean(guide), mean(p)
    mr, mg, mb = mean_i[:, 0:1], mean_i[:, 1:2], mean_i[:, 2:3]
    corr = mean(torch.cat([r * r, r * g, r * bl, g * g, g * bl, bl * bl], 1))
    vrr, vrg, vrb = corr[:, 0:1] - mr * mr + eps, corr[:, 1:2] - mr * mg, corr[:, 2:3] - mr * mb
    vgg, vgb, vbb = corr[:, 3:4] - mg * mg + eps, corr[:, 4:5] - mg * mb, corr[:, 5:6] - mb * mb + eps
    cov = mean((guide[:, :, None] * p[:, None]).reshape(b, 3 * k, h, w)).reshape(b, 3, k, h, w)
    cov = cov - mean_i[:, :, None] * mean_p[:, None]
    cr, cg, cb = cov[:, 0], cov[:, 1], cov[:, 2]
    i00, i01, i02 = vgg * vbb - vgb * vgb, vrb * vgb - vrg * vbb, vrg * vgb - vrb * vgg
    i11, i12, i22 = vrr * vbb - vrb * vrb, vrg * vrb - vrr * vgb, vrr * vgg - vrg * vrg
    det = vrr * i00 + vrg * i01 + vrb * i02
    ar, ag, ab = [(x * cr + y * cg + z * cb) / det for x, y, z in [(i00, i01, i02), (i01, i11, i12), (i02, i12, i22)]]
    offset = mean_p - ar * mr - ag * mg - ab * mb
    q = (mean(ar) * r + mean(ag) * g + mean(ab) * bl + mean(offset)).clamp_min(0)
    return q / q.sum(1, keepdim=True).clamp_min(1e-8)


def frames_for(batch: int) -> np.ndarray:
    clips = [slotrt.generate_clip("test", i, frames=2).rgb[1] for i in range(batch)]
    return np.ascontiguousarray(np.stack(clips))


def session_masks(masks: str) -> dict:
    """The session options that serve what FrameStep computes."""
    return {} if masks == "served" else {"masks": "decoder", "refine": "off"}


def check_agreement(step, session_model, ort_session, masks: str, tol: float, relative: bool = False) -> float:
    """slotrt vs eager vs ONNX Runtime on continuing frames from one state;
    `relative`: compare by ||x - y|| / ||y|| (reduced precision)."""
    clip = slotrt.generate_clip("test", 99, frames=2).rgb
    with slotrt.Session(session_model, deterministic=True, **session_masks(masks)) as session, \
            session.open_stream() as stream:
        stream.process(clip[0])
        state = stream.state
        native = stream.process(clip[1])  # continues from `state`
    frames = clip[1:2]
    init = state[None]
    with torch.no_grad():
        eager = [t.numpy() for t in step(torch.from_numpy(frames), torch.from_numpy(init))]
    onnx = ort_session.run(None, {"frames": frames, "init": init})
    worst = 0.0
    for name, a, b, c in [("slots", native.slots, eager[0][0], onnx[0][0]),
                          ("masks", native.masks, eager[1][0], onnx[1][0])]:
        for pair, x, y in [("slotrt-eager", a, b), ("onnxruntime-eager", c, b)]:
            diff = float(np.linalg.norm(x - y) / np.linalg.norm(y)) if relative else float(np.abs(x - y).max())
            worst = max(worst, diff)
            if diff > tol:
                raise SystemExit(f"{name} disagree ({pair}): {'relative' if relative else 'max abs'} diff "
                                 f"{diff:.2e} > {tol}")
    return worst


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=str(ROOT / "models" / "savi-small-64.safetensors"))
    parser.add_argument("--batches", default="1,8,32")
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--precisions", default="fp32,bf16",
                        help="slotrt precision modes to run (fp32, bf16, auto); bf16 where the CPU only emulates "
                             "it runs a tenth of the rounds")
    parser.add_argument("--masks", choices=["served", "decoder"], default="served",
                        help="served: the masks the bundle serves (the shipped model: attention masks refined by "
                             "its guided filter); decoder: the decoder's masks")
    parser.add_argument("--out", default=str(ROOT / "out" / "bench_peers"))
    args = parser.parse_args()
    torch.set_num_threads(args.threads)  # the same libtorch serves slotrt and eager
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    ref = torch_ref.load(args.model).eval()
    step = FrameStep(ref, args.masks).eval()
    info_k, info_d = ref.config["grouping"]["num_slots"], ref.config["grouping"]["slot_dim"]
    onnx_path = out / "step.onnx"
    # The fused transformer fast path has no ONNX form: export the plain ops.
    torch.backends.mha.set_fastpath_enabled(False)
    with torch.no_grad():
        torch.onnx.export(
            step, (torch.zeros(1, 64, 64, 3, dtype=torch.uint8), torch.zeros(1, info_k, info_d)), str(onnx_path),
            input_names=["frames", "init"], output_names=["slots", "masks", "next_init"],
            dynamic_axes={"frames": {0: "batch"}, "init": {0: "batch"}}, opset_version=17, dynamo=False)
    torch.backends.mha.set_fastpath_enabled(True)
    so = ort.SessionOptions()
    so.intra_op_num_threads = args.threads
    so.inter_op_num_threads = 1
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    # ORT's pool spins after each run by default; on 2 cores that steals the
    # next peer's CPU, and the peers run back to back.
    so.add_session_config_entry("session.intra_op.allow_spinning", "0")
    onnx = ort.InferenceSession(str(onnx_path), so, providers=["CPUExecutionProvider"])
    print(f"onnxruntime {ort.__version__}, torch {torch.__version__}, slotrt {slotrt.version()}, "
          f"native bf16 on this CPU: {native_bf16()}, masks: {args.masks} ({step.source}"
          f"{', guided filter r=%d eps=%g' % step.filter if step.filter else ''})")
    for requested in args.precisions.split(","):
        model = slotrt.Model.load(args.model, threads=args.threads, precision=requested)
        precision = model.info.precision
        if precision == "fp32":
            worst = check_agreement(step, model, onnx, args.masks, tol=1e-4)
            print(f"{requested} -> {precision}: outputs agree, max abs diff {worst:.2e} (tolerance 1e-4)")
        else:
            worst = check_agreement(step, model, onnx, args.masks, tol=5e-2, relative=True)
            print(f"{requested} -> {precision}: outputs agree with fp32 eager, relative diff {worst:.2e} "
                  f"(tolerance 5e-2)")
        rounds = args.rounds if precision == "fp32" or native_bf16() else max(3, args.rounds // 10)
        bench_precision(model, precision, step, onnx, args.batches, rounds, info_k, info_d, args.masks)
        model.close()


def native_bf16() -> bool:
    flags = next((l for l in Path("/proc/cpuinfo").read_text().splitlines() if l.startswith("flags")), "")
    return "avx512_bf16" in flags.split() or "amx_bf16" in flags.split()


def bench_precision(model, precision, step, onnx, batches, rounds, info_k, info_d, masks):
    autocast = precision != "fp32"
    for batch in [int(b) for b in batches.split(",")]:
        frames = frames_for(batch)
        init = np.random.default_rng(0).standard_normal((batch, info_k, info_d)).astype(np.float32)
        session = slotrt.Session(model, max_batch=batch, warmup=True, **session_masks(masks))
        session.step(frames, np.ones(batch, bool))  # start every lane; later calls continue
        out_buffers = session.step(frames, np.zeros(batch, bool))
        frames_t, init_t = torch.from_numpy(frames), torch.from_numpy(init)
        no_reset = np.zeros(batch, bool)

        def run_slotrt():
            session.step(frames, no_reset, out=out_buffers)

        def run_eager():
            with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast):
                [t.float().numpy() for t in step(frames_t, init_t)]

        def run_onnx():
            onnx.run(None, {"frames": frames, "init": init})

        peers = {"slotrt": run_slotrt, "eager": run_eager, "onnxruntime": run_onnx}
        for fn in peers.values():  # warm-up
            for _ in range(3):
                fn()
        times = {name: [] for name in peers}
        for _ in range(rounds):
            order = list(peers.items())
            random.shuffle(order)
            for name, fn in order:
                started = time.perf_counter()
                fn()
                times[name].append((time.perf_counter() - started) * 1000)
        session.close()
        med = {name: statistics.median(t) for name, t in times.items()}
        print(f"peer-ratio batch={batch} precision={precision} slotrt_ms={med['slotrt']:.2f} "
              f"onnxruntime_ms={med['onnxruntime']:.2f} eager_ms={med['eager']:.2f} "
              f"ratio_vs_onnxruntime={med['slotrt'] / med['onnxruntime']:.3f}", flush=True)


if __name__ == "__main__":
    main()
