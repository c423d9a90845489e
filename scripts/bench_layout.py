"""Memory layout: the shipped model's convolution stacks (CNN encoder,
spatial broadcast decoder) in NCHW vs channels-last, on this machine's
libtorch, interleaved, medians. Prints one ratio line per part and batch:

layout part=<encoder|decoder> batch=<B> nchw_ms=<x> channels_last_ms=<y> ratio=<y/x>

    python scripts/bench_layout.py [--rounds 30] [--threads 2]
"""

import argparse
import random
import statistics
import time
from pathlib import Path

import torch

from slotrt import torch_ref

ROOT = Path(__file__).resolve().parents[1]


def conv_stack(encoder, x):
    for conv in encoder.convs:
        x = torch.relu(conv(x))
    return x


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=str(ROOT / "models" / "savi-small-64.safetensors"))
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    model = torch_ref.load(args.model).eval()
    k, d = model.config["grouping"]["num_slots"], model.config["grouping"]["slot_dim"]
    encoder, decoder = model.encoder, model.decoder
    encoder_cl = torch_ref.load(args.model).eval().encoder.to(memory_format=torch.channels_last)
    decoder_cl = torch_ref.load(args.model).eval().decoder.to(memory_format=torch.channels_last)
    for batch in (1, 8, 32):
        images = torch.randn(batch, 3, 64, 64)
        slots = torch.randn(batch, k, d)
        cases = {
            ("encoder", "nchw"): lambda: conv_stack(encoder, images),
            ("encoder", "channels_last"): lambda: conv_stack(
                encoder_cl, images.contiguous(memory_format=torch.channels_last)),
            ("decoder", "nchw"): lambda: decoder(slots),
            ("decoder", "channels_last"): lambda: decoder_cl(slots),
        }
        with torch.no_grad():
            a = conv_stack(encoder, images)
            b = conv_stack(encoder_cl, images.contiguous(memory_format=torch.channels_last))
            diff = float((a - b).abs().max())
            for fn in cases.values():
                fn()
            times = {name: [] for name in cases}
            for _ in range(args.rounds):
                order = list(cases.items())
                random.shuffle(order)
                for name, fn in order:
                    started = time.perf_counter()
                    fn()
                    times[name].append((time.perf_counter() - started) * 1000)
        for part in ("encoder", "decoder"):
            x, y = statistics.median(times[(part, "nchw")]), statistics.median(times[(part, "channels_last")])
            print(f"layout part={part} batch={batch} nchw_ms={x:.2f} channels_last_ms={y:.2f} ratio={y / x:.3f}"
                  + (f" max_abs_diff={diff:.1e}" if part == "encoder" else ""), flush=True)


if __name__ == "__main__":
    main()
