"""Synthetic multi-object clips with ground-truth instance masks."""

from __future__ import annotations

import ctypes
from dataclasses import dataclass

import numpy as np

from ._capi import check, lib

SPLITS = {"train": 0, "val": 1, "validation": 1, "test": 2}


class _Options(ctypes.Structure):
    _fields_ = [
        ("struct_size", ctypes.c_uint32),
        ("width", ctypes.c_uint32),
        ("height", ctypes.c_uint32),
        ("frames", ctypes.c_uint32),
        ("min_objects", ctypes.c_uint32),
        ("max_objects", ctypes.c_uint32),
        ("shapes", ctypes.c_uint32),
        ("backgrounds", ctypes.c_uint32),
        ("motions", ctypes.c_uint32),
        ("split", ctypes.c_uint32),
        ("clip_index", ctypes.c_uint64),
    ]


class _Info(ctypes.Structure):
    _fields_ = [
        ("struct_size", ctypes.c_uint32),
        ("width", ctypes.c_uint32),
        ("height", ctypes.c_uint32),
        ("frames", ctypes.c_uint32),
        ("num_objects", ctypes.c_uint32),
        ("seed", ctypes.c_uint64),
    ]


_u8p = ctypes.POINTER(ctypes.c_uint8)
lib.slotrt_synth_options_init.restype = ctypes.c_int32
lib.slotrt_synth_options_init.argtypes = [ctypes.POINTER(_Options)]
lib.slotrt_synth_clip_generate.restype = ctypes.c_int32
lib.slotrt_synth_clip_generate.argtypes = [ctypes.POINTER(_Options), ctypes.POINTER(ctypes.c_void_p)]
lib.slotrt_synth_clip_get_info.restype = ctypes.c_int32
lib.slotrt_synth_clip_get_info.argtypes = [ctypes.c_void_p, ctypes.POINTER(_Info)]
lib.slotrt_synth_clip_frame.restype = ctypes.c_int32
lib.slotrt_synth_clip_frame.argtypes = [
    ctypes.c_void_p, ctypes.c_uint32, _u8p, ctypes.c_size_t, _u8p, ctypes.c_size_t,
]
lib.slotrt_synth_clip_free.restype = None
lib.slotrt_synth_clip_free.argtypes = [ctypes.c_void_p]


def _make_options(options: dict) -> _Options:
    """Defaults from the library, then the given fields."""
    opts = _Options()
    check(lib.slotrt_synth_options_init(ctypes.byref(opts)))
    for key, value in options.items():
        if key not in dict(_Options._fields_) or key == "struct_size":
            raise TypeError(f"unknown option {key!r}")
        setattr(opts, key, value)
    return opts


@dataclass(frozen=True)
class Clip:
    rgb: np.ndarray  # [T, H, W, 3] uint8
    ids: np.ndarray  # [T, H, W] uint8, 0 = background, objects 1..num_objects
    num_objects: int
    seed: int


def generate_clip(split: str = "train", index: int = 0, **options) -> Clip:
    """Generates one clip; `options` are fields of slotrt_synth_options
    (width, height, frames, min_objects, max_objects, bit sets shapes /
    backgrounds / motions)."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {sorted(SPLITS)}, got {split!r}")
    opts = _make_options(options)
    opts.split, opts.clip_index = SPLITS[split], index
    handle = ctypes.c_void_p()
    check(lib.slotrt_synth_clip_generate(ctypes.byref(opts), ctypes.byref(handle)))
    try:
        info = _Info(struct_size=ctypes.sizeof(_Info))
        check(lib.slotrt_synth_clip_get_info(handle, ctypes.byref(info)))
        rgb = np.empty((info.frames, info.height, info.width, 3), np.uint8)
        ids = np.empty((info.frames, info.height, info.width), np.uint8)
        for t in range(info.frames):
            check(lib.slotrt_synth_clip_frame(
                handle, t, rgb[t].ctypes.data_as(_u8p), rgb[t].size,
                ids[t].ctypes.data_as(_u8p), ids[t].size))
        return Clip(rgb, ids, int(info.num_objects), int(info.seed))
    finally:
        lib.slotrt_synth_clip_free(handle)


def main(argv=None) -> int:
    """`python -m slotrt.synth --out DIR --split train --clips N` writes clips
    of the built-in 2D generator as `.npz` clip files (slotrt.clips), the
    form the PyTorch trainer and `slotrt train --data` read."""
    import argparse

    from .clips import write_clips

    p = argparse.ArgumentParser(prog="python -m slotrt.synth", description=main.__doc__.split("\n")[0])
    p.add_argument("--out", required=True)
    p.add_argument("--split", default="train", choices=["train", "val", "test"])
    p.add_argument("--clips", type=int, default=10)
    p.add_argument("--first", type=int, default=0)
    p.add_argument("--frames", type=int, default=16)
    p.add_argument("--width", type=int, default=64)
    p.add_argument("--height", type=int, default=64)
    a = p.parse_args(argv)

    def make(i):
        clip = generate_clip(a.split, i, frames=a.frames, width=a.width, height=a.height)
        return clip.rgb, clip.ids

    write_clips(a.out, range(a.first, a.first + a.clips), make)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
