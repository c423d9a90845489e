"""Plots a `slotrt train` run from its train.log (JSON lines): the loss and,
where logged, validation FG-ARI / mBO / video FG-ARI against the step, with
the issue's bars as dashed lines.

    python scripts/plot_train.py models/wip/savi-small-64-guided/train.log --out docs/img/train_curve.png
"""

import argparse
import json

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

BARS = {"val_fg_ari": 0.85, "val_video_fg_ari": 0.80, "val_mbo": 0.70}
NAMES = {"val_fg_ari": "FG-ARI", "val_mbo": "mBO", "val_video_fg_ari": "video FG-ARI"}


def smooth(values, window):
    out, acc = [], 0.0
    for i, v in enumerate(values):
        acc += v - (values[i - window] if i >= window else 0.0)
        out.append(acc / min(i + 1, window))
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("log")
    parser.add_argument("--out", required=True)
    parser.add_argument("--title", default="")
    args = parser.parse_args()
    lines = [json.loads(line) for line in open(args.log)]
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
    steps = [d["step"] for d in lines]
    axes[0].plot(steps, smooth([d["loss"] for d in lines], 50), label="total (mean of 50 steps)")
    for term in ("reconstruction", "guided"):
        values = [d.get("terms", {}).get(term, 0.0) for d in lines]
        if any(values):
            axes[0].plot(steps, smooth(values, 50), label=term)
    axes[0].set_xlabel("step")
    axes[0].set_ylabel("training loss")
    axes[0].legend(fontsize=8)
    evals = [d for d in lines if "val_fg_ari" in d]
    for key, name in NAMES.items():
        line, = axes[1].plot([d["step"] for d in evals], [d[key] for d in evals], marker=".", label=name)
        axes[1].axhline(BARS[key], color=line.get_color(), linestyle="--", linewidth=0.8)
    axes[1].set_xlabel("step")
    axes[1].set_ylabel("validation (8 clips x 16 frames)")
    axes[1].set_ylim(0.3, 1.0)
    axes[1].legend(fontsize=8)
    if args.title:
        fig.suptitle(args.title)
    fig.tight_layout()
    fig.savefig(args.out, dpi=110)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
