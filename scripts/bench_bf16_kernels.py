"""Where bf16 time goes on this CPU: the shipped encoder's convolution
stack (4 x 5x5, 32 channels, ReLU, 64x64 input, batch 8) in fp32 and bf16
in both layouts, its main convolution alone (32 -> 32, 5x5, 32x32) with the
oneDNN kernel libtorch picks, then a 3x3 convolution over channel counts.
2 threads; fp32 and bf16 alternate in blocks of 5 runs, medians of 8
blocks. Prints one line per case:

bf16-kernels op=<op> channels=<C> fp32_ms=<x> bf16_ms=<y> ratio=<y/x> fp32_kernel=<k> bf16_kernel=<k>

    source scripts/env.sh && python scripts/bench_bf16_kernels.py
"""

import os
import statistics
import subprocess
import sys
import time

import torch
import torch.nn.functional as F


def kernel_of(kind: str, channels: int, k: int) -> str:
    """The oneDNN implementation name, from a verbose run in a subprocess."""
    code = (f"import torch, torch.nn.functional as F; torch.set_num_threads(2); "
            f"x = torch.rand(8, {channels}, 32, 32).to(torch.{kind}); w = torch.rand({channels}, {channels}, {k}, {k}).to(torch.{kind}); "
            f"F.conv2d(x, w, padding={k // 2})")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env={**os.environ, "ONEDNN_VERBOSE": "1"}).stdout
    for line in out.splitlines():
        if ",convolution," in line:
            return line.split(",")[6]
    return "not-onednn"


def median_ms(fn, rounds=20):
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        fn()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def main():
    torch.set_num_threads(2)
    flags = next((l for l in open("/proc/cpuinfo") if l.startswith("flags")), "").split()
    print(f"torch {torch.__version__}, avx512_bf16={'avx512_bf16' in flags}, amx_bf16={'amx_bf16' in flags}")
    cases = [("encoder_stack_nchw", 32, 5), ("encoder_stack_channels_last", 32, 5), ("encoder_conv5x5", 32, 5)]
    cases += [("conv3x3", c, 3) for c in (32, 64, 128, 256)]
    for op, channels, k in cases:
        run32, run16 = make(op, channels, k, torch.float32), make(op, channels, k, torch.bfloat16)
        for fn in (run32, run16):
            fn()
        a, b = [], []
        for _ in range(8):  # interleaved blocks, so noise hits both
            a.append(median_ms(run32, 5))
            b.append(median_ms(run16, 5))
        fp32, bf16 = statistics.median(a), statistics.median(b)
        kernels = ""
        if not op.startswith("encoder_stack"):
            kernels = f" fp32_kernel={kernel_of('float32', channels, k)} bf16_kernel={kernel_of('bfloat16', channels, k)}"
        print(f"bf16-kernels op={op} channels={channels} fp32_ms={fp32:.2f} bf16_ms={bf16:.2f} "
              f"ratio={bf16 / fp32:.2f}{kernels}", flush=True)


def make(op: str, channels: int, k: int, dtype):
    """A no-argument callable running `op` in `dtype`."""
    if op.startswith("encoder_stack"):
        cl = op.endswith("channels_last")
        fmt = torch.channels_last if cl else torch.contiguous_format
        ws = [torch.rand(32, 3 if i == 0 else 32, 5, 5).to(dtype).contiguous(memory_format=fmt) for i in range(4)]
        x = torch.rand(8, 3, 64, 64)

        def stack():
            h = x.to(dtype).contiguous(memory_format=fmt)
            for i, w in enumerate(ws):
                h = F.conv2d(h, w, stride=2 if i == 0 else 1, padding=2).relu()
            return h.float()
        return stack
    x = torch.rand(8, channels, 32, 32).to(dtype)
    w = torch.rand(channels, channels, k, k).to(dtype)
    return lambda: F.conv2d(x, w, padding=k // 2)


if __name__ == "__main__":
    main()
