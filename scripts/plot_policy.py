"""Mean learning curves over seeds of examples/python/policy.py runs.

    python scripts/plot_policy.py out/policy2-s0 out/policy2-s1 ... --out docs/img/policy_curves.png

Each run directory holds curves.csv (observation, env_steps, mean_return);
the plot shows every seed thin and the mean over seeds thick, per
observation kind, on a common grid of environment steps.
"""

import argparse
import csv
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def read(run: Path) -> dict:
    curves: dict = {}
    with open(run / "curves.csv") as f:
        for row in csv.DictReader(f):
            curves.setdefault(row["observation"], []).append((int(row["env_steps"]), float(row["mean_return"])))
    return {k: np.array(v) for k, v in curves.items()}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("runs", nargs="+", type=Path)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    runs = [read(r) for r in args.runs]
    fig, ax = plt.subplots(figsize=(7, 4))
    for kind, colour in (("slots", "tab:blue"), ("pixels", "tab:orange")):
        curves = [r[kind] for r in runs if kind in r]
        end = min(c[-1, 0] for c in curves)
        grid = np.linspace(0, end, 100)
        resampled = np.array([np.interp(grid, c[:, 0], c[:, 1]) for c in curves])
        for c in curves:
            ax.plot(c[:, 0], c[:, 1], color=colour, alpha=0.2, linewidth=0.8)
        mean = resampled.mean(0)
        ax.plot(grid, mean, color=colour, linewidth=2.2,
                label=f"from {kind}: mean of {len(curves)} seeds, final {mean[-1]:.2f}")
    ax.set_xlabel("environment steps")
    ax.set_ylabel("mean return (last 50 episodes)")
    ax.set_title("A2C on slotrt/Reach-v0: slots vs pixels")
    ax.legend(loc="lower right")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.out, dpi=100)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
