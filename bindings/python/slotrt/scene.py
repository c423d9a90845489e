"""A live synthetic scene (the generator's objects as a small simulator)."""

from __future__ import annotations

import ctypes

import numpy as np

from ._capi import check, lib
from .synth import _Options, _make_options

_u8p = ctypes.POINTER(ctypes.c_uint8)


class _Object(ctypes.Structure):
    _fields_ = [
        ("struct_size", ctypes.c_uint32), ("id", ctypes.c_uint32),
        ("shape", ctypes.c_uint32), ("motion", ctypes.c_uint32),
        ("colour", ctypes.c_uint8 * 3),
        ("x", ctypes.c_float), ("y", ctypes.c_float),
        ("vx", ctypes.c_float), ("vy", ctypes.c_float), ("radius", ctypes.c_float),
    ]


lib.slotrt_scene_create.restype = ctypes.c_int32
lib.slotrt_scene_create.argtypes = [ctypes.POINTER(_Options), ctypes.c_uint64, ctypes.POINTER(ctypes.c_void_p)]
lib.slotrt_scene_num_objects.restype = ctypes.c_int32
lib.slotrt_scene_num_objects.argtypes = [ctypes.c_void_p, ctypes.POINTER(ctypes.c_uint32)]
lib.slotrt_scene_get_object.restype = ctypes.c_int32
lib.slotrt_scene_get_object.argtypes = [ctypes.c_void_p, ctypes.c_uint32, ctypes.POINTER(_Object)]
lib.slotrt_scene_steer.restype = ctypes.c_int32
lib.slotrt_scene_steer.argtypes = [ctypes.c_void_p, ctypes.c_uint32, ctypes.c_float, ctypes.c_float]
lib.slotrt_scene_set_colour.restype = ctypes.c_int32
lib.slotrt_scene_set_colour.argtypes = [ctypes.c_void_p, ctypes.c_uint32, ctypes.c_uint8, ctypes.c_uint8, ctypes.c_uint8]
lib.slotrt_scene_advance.restype = ctypes.c_int32
lib.slotrt_scene_advance.argtypes = [ctypes.c_void_p]
lib.slotrt_scene_render.restype = ctypes.c_int32
lib.slotrt_scene_render.argtypes = [ctypes.c_void_p, _u8p, ctypes.c_size_t, _u8p, ctypes.c_size_t]
lib.slotrt_scene_free.restype = None
lib.slotrt_scene_free.argtypes = [ctypes.c_void_p]


class Scene:
    """Objects on a background that you advance, steer and render."""

    def __init__(self, seed: int, **options):
        opts = _make_options(options)
        self._handle = ctypes.c_void_p()
        check(lib.slotrt_scene_create(ctypes.byref(opts), seed, ctypes.byref(self._handle)))
        self.width, self.height = opts.width, opts.height
        n = ctypes.c_uint32()
        check(lib.slotrt_scene_num_objects(self._handle, ctypes.byref(n)))
        self.num_objects = n.value

    def positions(self) -> np.ndarray:
        """Object centres [n, 2] as (x, y) in pixels, in draw order."""
        out = np.empty((self.num_objects, 2), np.float32)
        obj = _Object(struct_size=ctypes.sizeof(_Object))
        for i in range(self.num_objects):
            check(lib.slotrt_scene_get_object(self._handle, i, ctypes.byref(obj)))
            out[i] = (obj.x, obj.y)
        return out

    def radii(self) -> np.ndarray:
        out = np.empty(self.num_objects, np.float32)
        obj = _Object(struct_size=ctypes.sizeof(_Object))
        for i in range(self.num_objects):
            check(lib.slotrt_scene_get_object(self._handle, i, ctypes.byref(obj)))
            out[i] = obj.radius
        return out

    def steer(self, index: int, vx: float, vy: float) -> None:
        check(lib.slotrt_scene_steer(self._handle, index, vx, vy))

    def set_colour(self, index: int, rgb) -> None:
        check(lib.slotrt_scene_set_colour(self._handle, index, *[int(c) for c in rgb]))

    def advance(self) -> None:
        check(lib.slotrt_scene_advance(self._handle))

    def render(self, rgb: np.ndarray = None, ids: np.ndarray = None):
        """(rgb [H, W, 3] uint8, ids [H, W] uint8: 0 background, i+1 object i)."""
        rgb = np.empty((self.height, self.width, 3), np.uint8) if rgb is None else rgb
        ids = np.empty((self.height, self.width), np.uint8) if ids is None else ids
        check(lib.slotrt_scene_render(self._handle, rgb.ctypes.data_as(_u8p), rgb.size,
                                      ids.ctypes.data_as(_u8p), ids.size))
        return rgb, ids

    def close(self) -> None:
        if self._handle:
            lib.slotrt_scene_free(self._handle)
            self._handle = None

    __del__ = close
