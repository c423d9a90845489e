"""A second 2D clip generator, written apart from the built-in one
(src/data) and NEVER used for training or for choosing settings: it only
measures how a model does on 2D video nobody tuned it on.

Its statistics differ on purpose from the built-in generator's:
* colours: objects shaded with a vertical light gradient and an outline-free
  soft rim, drawn from pastel, dark and saturated palettes (the built-in
  objects are flat, fully saturated hues);
* sizes: radius 0.07-0.22 of the frame (built-in 0.09-0.17), rotated shapes
  (rounded squares, rotated ellipses, triangles, discs, pentagons);
* backgrounds: stripes, value noise and vignettes (built-in: plain,
  gradient, checker-like texture);
* motion: constant velocity with bounces plus slow rotation, 1-6 objects.

    python -m slotrt.heldout2d --out data/heldout2d/test --clips 200 --frames 16

writes `.npz` clip files (slotrt.clips). Deterministic from (index) with its
own seed space.
"""

from __future__ import annotations

import argparse
import colorsys
import sys

import numpy as np

SEED_BASE = 0x5EED_2D00_0000


def _palette_colour(rng: np.random.Generator) -> np.ndarray:
    kind = rng.integers(3)
    h = rng.random()
    if kind == 0:  # pastel
        s, v = rng.uniform(0.2, 0.45), rng.uniform(0.85, 1.0)
    elif kind == 1:  # dark
        s, v = rng.uniform(0.4, 0.9), rng.uniform(0.25, 0.5)
    else:  # saturated, mid value
        s, v = rng.uniform(0.7, 1.0), rng.uniform(0.55, 0.85)
    return np.array(colorsys.hsv_to_rgb(h, s, v))


def _background(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    yy, xx = np.mgrid[0:h, 0:w] / max(h, w)
    base = _palette_colour(rng)
    other = _palette_colour(rng)
    kind = rng.integers(3)
    if kind == 0:  # stripes at an angle
        a = rng.uniform(0, np.pi)
        period = rng.uniform(0.08, 0.3)
        t = (np.sin(2 * np.pi * (np.cos(a) * xx + np.sin(a) * yy) / period) > 0).astype(float)[..., None]
        img = base * (1 - t) + (0.6 * base + 0.4 * other) * t
    elif kind == 1:  # smooth value noise
        g = rng.random((5, 5))
        ys = np.linspace(0, 4, h)
        xs = np.linspace(0, 4, w)
        y0, x0 = np.floor(ys).astype(int).clip(0, 3), np.floor(xs).astype(int).clip(0, 3)
        fy, fx = (ys - y0)[:, None], (xs - x0)[None, :]
        n = (g[y0][:, x0] * (1 - fy) * (1 - fx) + g[y0 + 1][:, x0] * fy * (1 - fx)
             + g[y0][:, x0 + 1] * (1 - fy) * fx + g[y0 + 1][:, x0 + 1] * fy * fx)
        img = base * (0.6 + 0.4 * n[..., None]) + 0.15 * other * n[..., None]
    else:  # vignette
        r = np.sqrt((yy - 0.5) ** 2 + (xx - 0.5) ** 2)
        img = base * (1.0 - 0.9 * r[..., None]) + 0.2 * other * r[..., None]
    return np.clip(img, 0, 1)


def _inside(kind: str, dx, dy, r, angle, aspect):
    c, s = np.cos(angle), np.sin(angle)
    u, v = c * dx + s * dy, -s * dx + c * dy
    if kind == "disc":
        return u * u + v * v <= r * r
    if kind == "ellipse":
        return (u / r) ** 2 + (v / (r * aspect)) ** 2 <= 1
    if kind == "rounded_square":
        q = r * 0.75
        ax, ay = np.maximum(np.abs(u) - q * 0.6, 0), np.maximum(np.abs(v) - q * 0.6, 0)
        return ax * ax + ay * ay <= (q * 0.4) ** 2
    n = 3 if kind == "triangle" else 5
    theta = np.arctan2(v, u)
    rho = np.sqrt(u * u + v * v)
    sector = 2 * np.pi / n
    local = (theta % sector) - sector / 2
    return rho * np.cos(local) <= r * np.cos(np.pi / n)


KINDS = ("disc", "ellipse", "rounded_square", "triangle", "pentagon")


def generate(index: int, width: int = 64, height: int = 64, frames: int = 16):
    """(frames [T, H, W, 3] uint8, ids [T, H, W] uint8) of clip `index`."""
    rng = np.random.default_rng(SEED_BASE + index)
    n = int(rng.integers(1, 7))
    bg = _background(rng, height, width)
    objs = []
    for _ in range(n):
        objs.append({
            "kind": KINDS[int(rng.integers(len(KINDS)))],
            "r": rng.uniform(0.07, 0.22),
            "pos": rng.uniform(0.15, 0.85, 2),
            "vel": rng.normal(0, 0.02, 2) * rng.integers(0, 2),
            "angle": rng.uniform(0, 2 * np.pi),
            "spin": rng.normal(0, 0.05),
            "aspect": rng.uniform(0.45, 0.8),
            "colour": _palette_colour(rng),
        })
    yy, xx = (np.mgrid[0:height, 0:width] + 0.5) / np.array([height, width])[:, None, None]
    out = np.empty((frames, height, width, 3), np.uint8)
    ids = np.zeros((frames, height, width), np.uint8)
    for t in range(frames):
        img = bg.copy()
        lab = np.zeros((height, width), np.uint8)
        for k, o in enumerate(objs):  # later objects occlude earlier ones
            dy, dx = yy - o["pos"][0], xx - o["pos"][1]
            m = _inside(o["kind"], dx, dy, o["r"], o["angle"], o["aspect"])
            shade = 1.15 - 0.5 * ((dy / o["r"]).clip(-1, 1) + 1) / 2  # lit from above
            img[m] = np.clip(o["colour"][None, :] * shade[m][:, None], 0, 1)
            lab[m] = k + 1
        out[t] = (img * 255).round().astype(np.uint8)
        ids[t] = lab
        for o in objs:
            o["pos"] = o["pos"] + o["vel"]
            for d in range(2):
                if not 0.1 <= o["pos"][d] <= 0.9:
                    o["vel"][d] *= -1
                    o["pos"][d] = np.clip(o["pos"][d], 0.1, 0.9)
            o["angle"] += o["spin"]
    return out, ids


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m slotrt.heldout2d", description=__doc__.split("\n\n")[0])
    p.add_argument("--out", required=True)
    p.add_argument("--clips", type=int, default=200)
    p.add_argument("--frames", type=int, default=16)
    p.add_argument("--width", type=int, default=64)
    p.add_argument("--height", type=int, default=64)
    a = p.parse_args(argv)
    from .clips import write_clips

    write_clips(a.out, range(a.clips), lambda i: generate(i, a.width, a.height, a.frames))
    return 0


if __name__ == "__main__":
    sys.exit(main())
