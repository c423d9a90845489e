"""Plots adaptation curves written by `slotrt finetune` (curve.json) side by side.

    python scripts/plot_finetune.py out/ft10-guided out/ft10-unguided --out docs/img/finetune_curve.png
"""

import argparse
import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("runs", nargs="+", help="output directories of slotrt finetune")
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.4))
    for run in args.runs:
        points = json.loads((Path(run) / "curve.json").read_text())
        minutes = [p["seconds"] / 60 for p in points]
        label = Path(run).name
        axes[0].plot(minutes, [p["fg_ari"] for p in points], marker="o", label=label)
        axes[1].plot(minutes, [p["mbo"] for p in points], marker="o", label=label)
    for ax, name in zip(axes, ["FG-ARI", "mBO"]):
        ax.set_xlabel("minutes of streaming (2-core CPU)")
        ax.set_ylabel(f"{name}, streamed domain (held-out)")
        ax.grid(alpha=0.3)
    axes[0].legend()
    fig.tight_layout()
    fig.savefig(args.out, dpi=90)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
