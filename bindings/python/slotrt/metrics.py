"""Segmentation metrics (ARI, FG-ARI, mBO, mIoU, video forms) from the C API."""

from __future__ import annotations

import ctypes
from dataclasses import dataclass

import numpy as np

from ._capi import check, lib


class _ClipScores(ctypes.Structure):
    _fields_ = [
        ("struct_size", ctypes.c_uint32),
        ("frames_with_objects", ctypes.c_uint32),
        ("ari", ctypes.c_double),
        ("fg_ari", ctypes.c_double),
        ("mbo", ctypes.c_double),
        ("miou", ctypes.c_double),
        ("video_fg_ari", ctypes.c_double),
        ("video_mbo", ctypes.c_double),
    ]


_i32p = ctypes.POINTER(ctypes.c_int32)
lib.slotrt_score_clip.restype = ctypes.c_int32
lib.slotrt_score_clip.argtypes = [
    _i32p, _i32p, ctypes.c_uint32, ctypes.c_uint32, ctypes.c_uint32,
    ctypes.POINTER(_ClipScores),
]


@dataclass(frozen=True)
class ClipScores:
    """Per-frame means (FG-ARI, mBO, mIoU over frames with objects) and the
    video metrics over (t, y, x). NaN where there was nothing to average."""

    ari: float
    fg_ari: float
    mbo: float
    miou: float
    video_fg_ari: float
    video_mbo: float
    frames_with_objects: int


def _labels(a) -> np.ndarray:
    return np.ascontiguousarray(a, dtype=np.int32)


def _ptr(a: np.ndarray):
    return a.ctypes.data_as(_i32p)


def _ari(func, true_labels, pred_labels) -> float:
    t, p = _labels(true_labels).ravel(), _labels(pred_labels).ravel()
    if t.shape != p.shape:
        raise ValueError(f"label arrays differ in size: {t.size} vs {p.size}")
    out = ctypes.c_double()
    check(func(_ptr(t), _ptr(p), t.size, ctypes.byref(out)))
    return out.value


def ari(true_labels, pred_labels) -> float:
    """Adjusted Rand Index (same values as sklearn's adjusted_rand_score)."""
    return _ari(lib.slotrt_ari, true_labels, pred_labels)


def fg_ari(true_labels, pred_labels) -> float:
    """ARI over the points whose true label is not 0."""
    return _ari(lib.slotrt_fg_ari, true_labels, pred_labels)


def score_clip(true_ids, pred_ids) -> ClipScores:
    """Scores [T, H, W] hard label maps (true: 0 = background)."""
    t, p = _labels(true_ids), _labels(pred_ids)
    if t.ndim != 3 or t.shape != p.shape:
        raise ValueError(f"expected two [T, H, W] arrays, got {t.shape} and {p.shape}")
    out = _ClipScores(struct_size=ctypes.sizeof(_ClipScores))
    check(lib.slotrt_score_clip(_ptr(t), _ptr(p), *t.shape, ctypes.byref(out)))
    return ClipScores(
        out.ari, out.fg_ari, out.mbo, out.miou, out.video_fg_ari, out.video_mbo,
        out.frames_with_objects,
    )
