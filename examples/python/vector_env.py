"""A vectorised gymnasium loop with slots as observations: one slotrt call
per step for all environments, resets following gymnasium's autoreset.

    python examples/python/vector_env.py [--envs 8] [--steps 100]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
from gymnasium.vector import SyncVectorEnv

import slotrt
from slotrt.envs import ReachEnv
from slotrt.gym import SlotVectorObservation

ROOT = Path(__file__).resolve().parents[2]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=str(ROOT / "models" / "savi-small-64.safetensors"))
    parser.add_argument("--envs", type=int, default=8)
    parser.add_argument("--steps", type=int, default=100)
    args = parser.parse_args(argv)
    with slotrt.Model.load(args.model) as model:
        envs = SlotVectorObservation(SyncVectorEnv([lambda: ReachEnv(max_steps=20) for _ in range(args.envs)]), model)
        obs, _ = envs.reset(seed=0)
        rng = np.random.default_rng(0)
        episodes, started = 0, time.time()
        for _ in range(args.steps):
            obs, reward, terminated, truncated, _ = envs.step(rng.integers(0, 5, args.envs))
            episodes += int(np.sum(terminated | truncated))
        elapsed = time.time() - started
        print(f"{args.envs} envs x {args.steps} steps: observations {obs['slots'].shape} slots per step, "
              f"{episodes} episodes ended, {args.envs * args.steps / elapsed:.0f} env-steps/s")
        envs.close()


if __name__ == "__main__":
    main()
