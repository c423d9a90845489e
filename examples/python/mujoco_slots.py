"""Slots on a MuJoCo scene: simulate and render a multi-object scene with
MuJoCo, stream the frames through slotrt, and write a GIF of frame |
renderer's segmentation | slot overlay, with the clip's FG-ARI.

    MUJOCO_GL=osmesa python examples/python/mujoco_slots.py [--clip 0] [--frames 24] [--out out/mujoco.gif]

The scene is one of `slotrt.mujoco_scenes` (test split): 1-10 bodies dropped
or thrown onto a textured floor; the segmentation comes from MuJoCo's own
segmentation render (one id per body). `--robot` renders a gymnasium MuJoCo
robot instead (`slotrt.robot_scenes`, links as instances).
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

os.environ.setdefault("MUJOCO_GL", "osmesa")

import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

import slotrt  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
PALETTE = np.array([
    [230, 25, 75], [60, 180, 75], [255, 225, 25], [0, 130, 200], [245, 130, 48], [145, 30, 180],
    [70, 240, 240], [240, 50, 230], [210, 245, 60], [250, 190, 212], [0, 128, 128], [170, 110, 40],
    [128, 0, 0], [170, 255, 195], [128, 128, 0], [0, 0, 128],
], np.uint8)


def overlay(frame: np.ndarray, labels: np.ndarray) -> np.ndarray:
    blended = (frame.astype(np.uint16) + PALETTE[labels % len(PALETTE)]) // 2
    edges = np.zeros(labels.shape, bool)
    edges[:, :-1] |= labels[:, :-1] != labels[:, 1:]
    edges[:-1, :] |= labels[:-1, :] != labels[1:, :]
    blended[edges] = 255
    return blended.astype(np.uint8)


def segmentation(ids: np.ndarray) -> np.ndarray:
    out = PALETTE[(ids.astype(np.int64) + 11) % len(PALETTE)]
    out[ids == 0] = 0
    return out


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", default=str(ROOT / "models" / "savi-small-64.safetensors"))
    p.add_argument("--clip", type=int, default=0)
    p.add_argument("--frames", type=int, default=24)
    p.add_argument("--robot", action="store_true", help="a gymnasium MuJoCo robot instead of the object scenes")
    p.add_argument("--out", default=str(ROOT / "out" / "mujoco.gif"))
    a = p.parse_args(argv)
    if a.robot:
        from slotrt.robot_scenes import generate

        frames, ids, name = generate(a.clip, frames=a.frames)
    else:
        from slotrt.mujoco_scenes import SceneConfig, render_clip

        clip = render_clip("test", a.clip, SceneConfig(frames=a.frames))
        frames, ids, name = clip.frames, clip.ids, f"{clip.num_objects} bodies"
    panels, labels = [], []
    with slotrt.Model.load(a.model) as model, slotrt.Session(model, label_maps=True) as session:
        with session.open_stream() as stream:
            for t, frame in enumerate(frames):
                r = stream.process(frame, tag=t)
                labels.append(r.labels.copy())
                panel = np.concatenate([frame, segmentation(ids[t]), overlay(frame, r.labels)], axis=1)
                panels.append(Image.fromarray(panel).resize((panel.shape[1] * 4, panel.shape[0] * 4), Image.NEAREST))
    scores = slotrt.score_clip(ids, np.stack(labels))
    out = Path(a.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    panels[0].save(out, save_all=True, append_images=panels[1:], duration=120, loop=0)
    print(f"{name}: FG-ARI {scores.fg_ari:.3f}, video FG-ARI {scores.video_fg_ari:.3f}, mBO {scores.mbo:.3f}")
    print(f"wrote {out} (frame | MuJoCo segmentation | slots)")
    return out, scores


if __name__ == "__main__":
    main()
