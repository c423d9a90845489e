"""Do slots carry object positions? A linear probe on held-out episodes.

Collects episodes of slotrt's ReachEnv with random actions, streams them
through the shipped model (one stream, reset per episode), matches each
ground-truth object to the slot that covers most of its pixels, and fits a
linear map slot -> (x, y) on training episodes. Prints R^2 on held-out
episodes.

    python examples/python/probe.py [--episodes 40] [--model PATH]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

import slotrt
from slotrt.envs import ReachEnv

ROOT = Path(__file__).resolve().parents[2]


def collect(model: slotrt.Model, episodes: int, steps: int, seed: int):
    """(slot vectors [M, D], positions [M, 2]) for every visible object."""
    env = ReachEnv(max_steps=steps)
    rng = np.random.default_rng(seed)
    xs, ys = [], []
    with slotrt.Session(model, label_maps=True, deterministic=True, seed=seed) as session:
        stream = session.open_stream()
        for e in range(episodes):
            obs, info = env.reset(seed=seed * 1000 + e)
            stream.reset()
            for _ in range(steps):
                r = stream.process(obs)
                ids, labels = info["ids"], r.labels
                for i in range(info["num_objects"]):
                    pixels = ids == i + 1
                    if pixels.sum() < 15:  # hidden or leaving: no position to read
                        continue
                    slot = np.bincount(labels[pixels], minlength=len(r.slots)).argmax()
                    xs.append(r.slots[slot])
                    ys.append(info["positions"][i])
                obs, _, terminated, truncated, info = env.step(int(rng.integers(5)))
                if terminated or truncated:
                    break
    env.close()
    return np.array(xs), np.array(ys)


def fit_probe(x_train, y_train, x_test, y_test, ridge: float = 1e-2) -> float:
    """R^2 of a ridge-regularised linear probe, averaged over x and y."""
    mean, std = x_train.mean(0), x_train.std(0) + 1e-6
    a = np.hstack([(x_train - mean) / std, np.ones((len(x_train), 1))])
    w = np.linalg.solve(a.T @ a + ridge * np.eye(a.shape[1]), a.T @ y_train)
    pred = np.hstack([(x_test - mean) / std, np.ones((len(x_test), 1))]) @ w
    ss_res = ((y_test - pred) ** 2).sum(0)
    ss_tot = ((y_test - y_test.mean(0)) ** 2).sum(0)
    return float((1 - ss_res / ss_tot).mean())


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=str(ROOT / "models" / "savi-small-64.safetensors"))
    parser.add_argument("--episodes", type=int, default=40)
    parser.add_argument("--steps", type=int, default=20)
    args = parser.parse_args()
    with slotrt.Model.load(args.model) as model:
        x_train, y_train = collect(model, args.episodes, args.steps, seed=1)
        x_test, y_test = collect(model, max(4, args.episodes // 4), args.steps, seed=2)
    r2 = fit_probe(x_train, y_train, x_test, y_test)
    print(f"linear probe slot -> object position: R^2 = {r2:.3f} on {len(x_test)} held-out object-frames "
          f"({len(x_train)} for fitting)")
    return r2


if __name__ == "__main__":
    main()
