"""Stream a synthetic clip through slotrt and save the slot overlays as a GIF.

    python examples/python/stream_gif.py [--clip 0] [--out out/stream.gif]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from PIL import Image

import slotrt

ROOT = Path(__file__).resolve().parents[2]

# One colour per slot (up to 12), blended over the frame.
PALETTE = np.array([
    [230, 25, 75], [60, 180, 75], [255, 225, 25], [0, 130, 200], [245, 130, 48], [145, 30, 180],
    [70, 240, 240], [240, 50, 230], [210, 245, 60], [250, 190, 212], [0, 128, 128], [170, 110, 40],
], np.uint8)


def overlay(frame: np.ndarray, labels: np.ndarray) -> np.ndarray:
    colours = PALETTE[labels % len(PALETTE)]
    blended = (frame.astype(np.uint16) + colours) // 2
    edges = np.zeros(labels.shape, bool)
    edges[:, :-1] |= labels[:, :-1] != labels[:, 1:]
    edges[:-1, :] |= labels[:-1, :] != labels[1:, :]
    blended[edges] = 255
    return blended.astype(np.uint8)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=str(ROOT / "models" / "savi-small-64.safetensors"))
    parser.add_argument("--clip", type=int, default=0)
    parser.add_argument("--out", default=str(ROOT / "out" / "stream.gif"))
    args = parser.parse_args(argv)
    clip = slotrt.generate_clip("test", args.clip)
    panels = []
    with slotrt.Model.load(args.model) as model, slotrt.Session(model, label_maps=True) as session:
        with session.open_stream() as stream:
            for t, frame in enumerate(clip.rgb):
                stream.push(frame, tag=t)
                r = stream.poll(timeout=60)
                panel = np.concatenate([frame, overlay(frame, r.labels)], axis=1)
                panels.append(Image.fromarray(panel).resize((panel.shape[1] * 3, panel.shape[0] * 3), Image.NEAREST))
                print(f"frame {r.frame_index:2d}: slot ids {list(r.ids)}, {r.latency_us[2] / 1000:.1f} ms")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    panels[0].save(out, save_all=True, append_images=panels[1:], duration=120, loop=0)
    print(f"wrote {out} (frame | slots)")
    return out


if __name__ == "__main__":
    main()
