"""Slots as observations for a policy: A2C on ReachEnv from slots vs pixels.

Trains the same small actor-critic twice for the same number of environment
steps: once on slotrt slots (SlotVectorObservation: one slotrt call per
vector step; a permutation-invariant Deep Sets network over the K slots),
once on raw pixels (a small CNN). Saves the learning curves as a PNG and a
CSV, and prints the final mean returns.

    python examples/python/policy.py [--env-steps 40000] [--out out/policy]
    python examples/python/policy.py --quick        # a smoke run (tests)
"""

from __future__ import annotations

import argparse
import csv
import time
from pathlib import Path

import numpy as np
import torch
from gymnasium.vector import SyncVectorEnv
from torch import nn

import slotrt
from slotrt.envs import ReachEnv
from slotrt.gym import SlotVectorObservation

ROOT = Path(__file__).resolve().parents[2]


class SlotPolicy(nn.Module):
    """Deep Sets over slots: phi per slot, summed, then actor and critic."""

    def __init__(self, slot_dim: int, actions: int, hidden: int = 128):
        super().__init__()
        self.phi = nn.Sequential(nn.Linear(slot_dim, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU())
        self.rho = nn.Sequential(nn.Linear(hidden, hidden), nn.ReLU())
        self.actor, self.critic = nn.Linear(hidden, actions), nn.Linear(hidden, 1)

    def forward(self, obs):
        h = self.rho(self.phi(obs["slots"]).sum(1))
        return self.actor(h), self.critic(h).squeeze(-1)


class PixelPolicy(nn.Module):
    def __init__(self, actions: int, hidden: int = 128):
        super().__init__()
        self.conv = nn.Sequential(
            nn.Conv2d(3, 32, 5, 2, 2), nn.ReLU(), nn.Conv2d(32, 32, 5, 2, 2), nn.ReLU(),
            nn.Conv2d(32, 32, 3, 2, 1), nn.ReLU(), nn.Flatten(), nn.Linear(32 * 8 * 8, hidden), nn.ReLU())
        self.actor, self.critic = nn.Linear(hidden, actions), nn.Linear(hidden, 1)

    def forward(self, obs):
        h = self.conv(obs["pixels"].permute(0, 3, 1, 2) / 255.0)
        return self.actor(h), self.critic(h).squeeze(-1)


def to_torch(obs) -> dict:
    if isinstance(obs, dict):
        return {k: torch.from_numpy(np.asarray(v, dtype=np.float32)) for k, v in obs.items()}
    return {"pixels": torch.from_numpy(obs.astype(np.float32))}


def train(kind: str, model: slotrt.Model, env_steps: int, envs: int, seed: int, rollout: int = 8):
    """A2C with n-step returns; returns [(env steps, mean episode return)]."""
    torch.manual_seed(seed)
    vec = SyncVectorEnv([lambda: ReachEnv(max_steps=40) for _ in range(envs)])
    if kind == "slots":
        vec = SlotVectorObservation(vec, model)
        net = SlotPolicy(model.info.slot_dim, 5)
    else:
        net = PixelPolicy(5)
    opt = torch.optim.Adam(net.parameters(), lr=7e-4)
    obs, _ = vec.reset(seed=seed)
    returns, running = [], np.zeros(envs)
    curve, steps, ended_before = [], 0, np.zeros(envs, bool)
    while steps < env_steps:
        logps, values, rewards, masks, entropies = [], [], [], [], []
        for _ in range(rollout):
            logits, value = net(to_torch(obs))
            dist = torch.distributions.Categorical(logits=logits)
            action = dist.sample()
            obs, reward, terminated, truncated, _ = vec.step(action.numpy())
            # NEXT_STEP autoreset: the step after an episode ended is a reset
            # step (its action is ignored): leave it out of the loss.
            valid = torch.from_numpy(~ended_before).float()
            ended = terminated | truncated
            running += reward * ~ended_before
            for i in np.flatnonzero(ended & ~ended_before):
                returns.append(running[i])
            running[ended_before] = 0.0
            logps.append(dist.log_prob(action) * valid)
            entropies.append(dist.entropy() * valid)
            values.append(value * valid)
            rewards.append(torch.from_numpy(reward.astype(np.float32)) * valid)
            masks.append(torch.from_numpy((~ended).astype(np.float32)))
            ended_before = ended
            steps += envs
        with torch.no_grad():
            _, ret = net(to_torch(obs))
        loss = 0.0
        for t in reversed(range(rollout)):
            ret = rewards[t] + 0.97 * ret * masks[t]
            advantage = ret - values[t]
            loss = loss - (logps[t] * advantage.detach()).mean() + 0.5 * advantage.pow(2).mean() \
                - 0.01 * entropies[t].mean()
        opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(net.parameters(), 0.5)
        opt.step()
        if returns and (not curve or steps - curve[-1][0] >= max(env_steps // 40, envs * rollout)):
            curve.append((steps, float(np.mean(returns[-50:]))))
    vec.close()
    return curve


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=str(ROOT / "models" / "savi-small-64.safetensors"))
    parser.add_argument("--env-steps", type=int, default=40000)
    parser.add_argument("--envs", type=int, default=8)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=str(ROOT / "out" / "policy"))
    parser.add_argument("--quick", action="store_true", help="a short smoke run")
    args = parser.parse_args(argv)
    if args.quick:
        args.env_steps, args.envs = 640, 4
    torch.set_num_threads(2)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    curves = {}
    with slotrt.Model.load(args.model) as model:
        for kind in ("slots", "pixels"):
            started = time.time()
            curves[kind] = train(kind, model, args.env_steps, args.envs, args.seed)
            last = curves[kind][-1][1] if curves[kind] else float("nan")
            print(f"{kind}: {args.env_steps} env steps in {time.time() - started:.0f} s, "
                  f"mean return of the last 50 episodes {last:.3f}")
    with open(out / "curves.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["observation", "env_steps", "mean_return"])
        for kind, curve in curves.items():
            writer.writerows([kind, s, r] for s, r in curve)
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(6, 4))
    for kind, curve in curves.items():
        if curve:
            ax.plot(*zip(*curve), label=f"from {kind}")
    ax.set_xlabel("environment steps")
    ax.set_ylabel("mean episode return (last 50)")
    ax.set_title("A2C on slotrt/Reach-v0")
    ax.legend()
    fig.tight_layout()
    fig.savefig(out / "learning_curves.png", dpi=100)
    print(f"wrote {out / 'learning_curves.png'} and {out / 'curves.csv'}")
    return curves


if __name__ == "__main__":
    main()
