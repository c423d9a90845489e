"""Do slots carry object positions? A linear probe on held-out episodes.

Collects episodes of slotrt's ReachEnv with random actions, streams them
through the shipped model (one stream, reset per episode), matches slots to
ground-truth objects one to one through their masks (Hungarian matching on
IoU), and fits a linear map slot -> (x, y) on training episodes. An object
counts as found when its matched slot's mask overlaps it with IoU >= 0.5
(the usual detection criterion); the probe is fitted and scored on found
objects, and the script prints how many that is and R^2 over every matched
object too, so a model that misses objects cannot hide it.

    python examples/python/probe.py [--episodes 40] [--model PATH]
"""

from __future__ import annotations

import argparse
import itertools
from pathlib import Path

import numpy as np

import slotrt
from slotrt.envs import ReachEnv

ROOT = Path(__file__).resolve().parents[2]


def match_slots(ids: np.ndarray, labels: np.ndarray, objects: list[int], num_slots: int):
    """One-to-one slot per object maximising the summed IoU of their masks
    (exhaustive: at most 5 objects and a handful of slots). Returns
    [(object, slot, iou)]."""
    iou = np.zeros((len(objects), num_slots))
    for a, i in enumerate(objects):
        obj = ids == i + 1
        for s in range(num_slots):
            slot = labels == s
            iou[a, s] = (obj & slot).sum() / max((obj | slot).sum(), 1)
    rows = np.arange(len(objects))
    best = max(itertools.permutations(range(num_slots), len(objects)), key=lambda p: iou[rows, list(p)].sum())
    return [(i, s, iou[a, s]) for a, (i, s) in enumerate(zip(objects, best))]


def collect(model: slotrt.Model, episodes: int, steps: int, seed: int):
    """(slot vectors [M, D], positions [M, 2], IoU of each match [M]) for
    every visible object."""
    env = ReachEnv(max_steps=steps)
    rng = np.random.default_rng(seed)
    xs, ys, ious = [], [], []
    with slotrt.Session(model, label_maps=True, deterministic=True, seed=seed) as session:
        stream = session.open_stream()
        for e in range(episodes):
            obs, info = env.reset(seed=seed * 1000 + e)
            stream.reset()
            for _ in range(steps):
                r = stream.process(obs)
                # Hidden or leaving objects (< 15 pixels) have no position to read.
                visible = [i for i in range(info["num_objects"]) if (info["ids"] == i + 1).sum() >= 15]
                for i, slot, iou in match_slots(info["ids"], r.labels, visible, len(r.slots)):
                    xs.append(r.slots[slot])
                    ys.append(info["positions"][i])
                    ious.append(iou)
                obs, _, terminated, truncated, info = env.step(int(rng.integers(5)))
                if terminated or truncated:
                    break
    env.close()
    return np.array(xs), np.array(ys), np.array(ious)


def fit_probe(x_train, y_train, x_test, y_test, ridge: float = 1e-2) -> float:
    """R^2 of a ridge-regularised linear probe, averaged over x and y."""
    mean, std = x_train.mean(0), x_train.std(0) + 1e-6
    a = np.hstack([(x_train - mean) / std, np.ones((len(x_train), 1))])
    w = np.linalg.solve(a.T @ a + ridge * np.eye(a.shape[1]), a.T @ y_train)
    pred = np.hstack([(x_test - mean) / std, np.ones((len(x_test), 1))]) @ w
    ss_res = ((y_test - pred) ** 2).sum(0)
    ss_tot = ((y_test - y_test.mean(0)) ** 2).sum(0)
    return float((1 - ss_res / ss_tot).mean())


def probe(model: slotrt.Model, episodes: int, steps: int, min_iou: float = 0.5) -> dict:
    """Fits on `episodes` training episodes, scores on a quarter as many
    held-out ones: R^2 on found objects, the share found, R^2 on all."""
    x, y, iou = collect(model, episodes, steps, seed=1)
    xt, yt, iou_t = collect(model, max(4, episodes // 4), steps, seed=2)
    found, found_t = iou >= min_iou, iou_t >= min_iou
    return {
        "r2": fit_probe(x[found], y[found], xt[found_t], yt[found_t]),
        "found": float(found_t.mean()),
        "r2_all": fit_probe(x, y, xt, yt),
        "test": int(found_t.sum()),
        "train": int(found.sum()),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=str(ROOT / "models" / "savi-small-64.safetensors"))
    parser.add_argument("--episodes", type=int, default=40)
    parser.add_argument("--steps", type=int, default=20)
    args = parser.parse_args()
    with slotrt.Model.load(args.model) as model:
        p = probe(model, args.episodes, args.steps)
    print(f"linear probe slot -> object position: R^2 = {p['r2']:.3f} on {p['test']} held-out found objects "
          f"({p['train']} for fitting); found (IoU >= 0.5): {p['found']:.1%}; "
          f"R^2 over every matched object: {p['r2_all']:.3f}")
    return p


if __name__ == "__main__":
    main()
