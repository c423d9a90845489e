"""Models, sessions and streams: the streaming runtime through the C ABI.

    with slotrt.Model.load("models/savi-small-64.safetensors") as model, \\
         slotrt.Session(model) as session, session.open_stream() as camera:
        result = camera.process(frame)        # frame: [H, W, 3] uint8 RGB
        result.slots                          # [K, D] float32
        result.masks                          # [K, h, w] float32

Frames are numpy arrays: [H, W, 3] or [H, W, 4] uint8 (RGB / BGR / RGBA /
BGRA, by `format`), [H, W] uint8 (gray), or [3, H, W] float32 in [0, 1].
Rows may be strided (a crop of a bigger image); pixels within a row must be
packed. The C library copies the frame once during the call and keeps no
reference to it. Results are fresh numpy arrays (or the `out=` arrays you
pass), so `torch.from_numpy(result.slots)` shares their memory.
"""

from __future__ import annotations

import ctypes
from dataclasses import dataclass
from typing import Optional

import numpy as np

from ._capi import ClosedError, InvalidArgumentError, TimeoutError_, check, lib

_u8p = ctypes.POINTER(ctypes.c_uint8)
_f32p = ctypes.POINTER(ctypes.c_float)
_u32p = ctypes.POINTER(ctypes.c_uint32)

WAIT_FOREVER = 0xFFFFFFFF

PIXEL_FORMATS = {"rgb": 0, "bgr": 1, "rgba": 2, "bgra": 3, "gray": 4, "chw": 5}
OVERFLOW = {"keep_latest": 0, "block": 1}
MASK_SOURCES = {"decoder": 0, "attention": 1, "model": 2}
MASK_REFINEMENTS = {"model": 0, "off": 1, "guided": 2}
INIT_KINDS = {0: "gaussian", 1: "learned_queries", 2: "conditional"}
PRECISIONS = {"fp32": 0, "bf16": 1, "fp16": 2, "auto": 3}
LAYOUTS = {"auto": 0, "nchw": 1, "channels_last": 2}


# ---- C structs (field order and types exactly as in include/slotrt.h) ----

class _Frame(ctypes.Structure):
    _fields_ = [
        ("struct_size", ctypes.c_uint32), ("format", ctypes.c_uint32),
        ("width", ctypes.c_uint32), ("height", ctypes.c_uint32),
        ("stride", ctypes.c_size_t), ("data", ctypes.c_void_p),
        ("timestamp_ns", ctypes.c_int64), ("tag", ctypes.c_uint64),
    ]


class _ResultInfo(ctypes.Structure):
    _fields_ = [
        ("frame_index", ctypes.c_uint64), ("episode", ctypes.c_uint64),
        ("timestamp_ns", ctypes.c_int64), ("tag", ctypes.c_uint64),
        ("num_slots", ctypes.c_uint32), ("slot_dim", ctypes.c_uint32),
        ("mask_height", ctypes.c_uint32), ("mask_width", ctypes.c_uint32),
        ("label_height", ctypes.c_uint32), ("label_width", ctypes.c_uint32),
        ("starts_episode", ctypes.c_bool),
        ("queue_us", ctypes.c_uint64), ("model_us", ctypes.c_uint64), ("total_us", ctypes.c_uint64),
    ]


class _Result(ctypes.Structure):
    _fields_ = [
        ("struct_size", ctypes.c_uint32),
        ("slots", _f32p), ("slots_capacity", ctypes.c_size_t),
        ("masks", _f32p), ("masks_capacity", ctypes.c_size_t),
        ("active", _u8p), ("active_capacity", ctypes.c_size_t),
        ("slot_ids", _u32p), ("slot_ids_capacity", ctypes.c_size_t),
        ("labels", _u8p), ("labels_capacity", ctypes.c_size_t),
        ("info", _ResultInfo),
    ]


class _ModelOptions(ctypes.Structure):
    _fields_ = [
        ("struct_size", ctypes.c_uint32), ("device_type", ctypes.c_uint32),
        ("device_index", ctypes.c_uint32), ("threads", ctypes.c_uint32),
        ("precision", ctypes.c_uint32), ("layout", ctypes.c_uint32),
    ]


class _ModelInfo(ctypes.Structure):
    _fields_ = [
        ("struct_size", ctypes.c_uint32),
        ("num_slots", ctypes.c_uint32), ("slot_dim", ctypes.c_uint32),
        ("input_height", ctypes.c_uint32), ("input_width", ctypes.c_uint32),
        ("mask_height", ctypes.c_uint32), ("mask_width", ctypes.c_uint32),
        ("attention_height", ctypes.c_uint32), ("attention_width", ctypes.c_uint32),
        ("init", ctypes.c_uint32), ("has_predictor", ctypes.c_bool),
        ("mean", ctypes.c_float * 3), ("std", ctypes.c_float * 3), ("bgr", ctypes.c_bool),
        ("format_version", ctypes.c_uint32),
        ("device_type", ctypes.c_uint32), ("device_index", ctypes.c_uint32),
        ("description", ctypes.c_char_p), ("precision", ctypes.c_uint32),
        ("masks", ctypes.c_uint32), ("layout", ctypes.c_uint32),
    ]


class _SessionOptions(ctypes.Structure):
    _fields_ = [
        ("struct_size", ctypes.c_uint32), ("max_batch", ctypes.c_uint32),
        ("max_wait_us", ctypes.c_uint32), ("queue_depth", ctypes.c_uint32),
        ("overflow", ctypes.c_uint32), ("deterministic", ctypes.c_bool),
        ("seed", ctypes.c_uint64), ("warmup", ctypes.c_bool),
        ("mask_source", ctypes.c_uint32), ("label_maps", ctypes.c_bool),
        ("mask_refinement", ctypes.c_uint32),
    ]


class _Latency(ctypes.Structure):
    _fields_ = [(n, ctypes.c_uint64) for n in ("samples", "p50_us", "p90_us", "p99_us", "max_us")]


class _SessionStats(ctypes.Structure):
    _fields_ = [
        ("struct_size", ctypes.c_uint32),
        ("streams_open", ctypes.c_uint64), ("frames_in", ctypes.c_uint64),
        ("frames_out", ctypes.c_uint64), ("frames_dropped", ctypes.c_uint64),
        ("results_dropped", ctypes.c_uint64), ("batches", ctypes.c_uint64),
        ("mean_batch", ctypes.c_double), ("largest_batch", ctypes.c_uint64),
        ("queue", _Latency), ("model", _Latency), ("total", _Latency),
    ]


class _StreamStats(ctypes.Structure):
    _fields_ = [("struct_size", ctypes.c_uint32)] + [
        (n, ctypes.c_uint64) for n in (
            "frames_in", "frames_out", "frames_dropped", "results_dropped",
            "queue_depth", "results_waiting", "episodes")
    ]


def _sig(name, *args):
    fn = getattr(lib, name)
    fn.restype = ctypes.c_int32
    fn.argtypes = list(args)


_vp, _vpp = ctypes.c_void_p, ctypes.POINTER(ctypes.c_void_p)
_sig("slotrt_frame_init", ctypes.POINTER(_Frame), _vp, ctypes.c_uint32, ctypes.c_uint32, ctypes.c_uint32)
_sig("slotrt_result_init", ctypes.POINTER(_Result))
_sig("slotrt_model_options_init", ctypes.POINTER(_ModelOptions))
_sig("slotrt_model_load", ctypes.c_char_p, ctypes.POINTER(_ModelOptions), _vpp)
_sig("slotrt_model_get_info", _vp, ctypes.POINTER(_ModelInfo))
_sig("slotrt_session_options_init", ctypes.POINTER(_SessionOptions))
_sig("slotrt_session_create", _vp, ctypes.POINTER(_SessionOptions), _vpp)
_sig("slotrt_session_get_mask_size", _vp, _u32p, _u32p)
_sig("slotrt_session_step", _vp, ctypes.c_size_t, ctypes.POINTER(_Frame), _u8p, ctypes.POINTER(_Result))
_sig("slotrt_session_get_stats", _vp, ctypes.POINTER(_SessionStats))
_sig("slotrt_stream_open", _vp, _vpp)
_sig("slotrt_stream_push", _vp, ctypes.POINTER(_Frame))
_sig("slotrt_stream_push_with_masks", _vp, ctypes.POINTER(_Frame), _u8p, ctypes.c_size_t)
_sig("slotrt_stream_poll", _vp, ctypes.c_uint32, ctypes.POINTER(_Result))
_sig("slotrt_stream_process", _vp, ctypes.POINTER(_Frame), ctypes.POINTER(_Result))
_sig("slotrt_stream_reset", _vp)
_sig("slotrt_stream_get_state", _vp, _f32p, ctypes.c_size_t)
_sig("slotrt_stream_set_state", _vp, _f32p, ctypes.c_size_t)
_sig("slotrt_stream_seed_slots", _vp, _f32p, ctypes.c_size_t)
_sig("slotrt_stream_seed_boxes", _vp, _f32p, ctypes.c_size_t)
_sig("slotrt_stream_get_stats", _vp, ctypes.POINTER(_StreamStats))
_sig("slotrt_stream_close", _vp)
for _name in ("slotrt_model_free", "slotrt_session_free", "slotrt_stream_free"):
    getattr(lib, _name).restype = None
    getattr(lib, _name).argtypes = [_vp]


# ---- frames ----------------------------------------------------------------

def _instance_ids(ids, f: _Frame) -> np.ndarray:
    """Per-pixel instance ids of a frame as packed uint8 [H, W]."""
    ids = np.asarray(ids)
    if ids.shape != (f.height, f.width):
        raise _bad_frame(f"ids must have the frame's shape ({f.height}, {f.width}), got {ids.shape}")
    if not np.issubdtype(ids.dtype, np.integer):
        raise _bad_frame(f"ids must hold integers, got {ids.dtype}")
    if ids.dtype != np.uint8:
        if ids.size and (ids.min() < 0 or ids.max() > 255):
            raise _bad_frame(f"ids must be in 0..255, found {int(ids.min())}..{int(ids.max())}")
        ids = ids.astype(np.uint8)
    return np.ascontiguousarray(ids)


def _frame(array: np.ndarray, fmt: Optional[str], timestamp_ns: int = 0, tag: int = 0) -> _Frame:
    """Describes a numpy image to the C API without copying it."""
    if not isinstance(array, np.ndarray):
        raise InvalidArgumentError(2, "SLOTRT_STATUS_INVALID_ARGUMENT",
                                   f"a frame must be a numpy array, got {type(array).__name__}")
    if array.dtype == np.float32:
        if array.ndim != 3 or array.shape[0] != 3:
            raise _bad_frame(f"a float32 frame must be [3, H, W] (planar RGB in [0, 1]), got {array.shape}")
        fmt = fmt or "chw"
        if fmt != "chw":
            raise _bad_frame(f"float32 frames are planar CHW, not {fmt!r}")
        _, h, w = array.shape
        plane, row, col = array.strides
        if col != 4 or row < 4 * w or plane != row * h:
            raise _bad_frame(f"a [3, H, W] float32 frame needs packed pixels and planes spaced "
                             f"height * row stride apart, got strides {array.strides}")
    elif array.dtype == np.uint8:
        if array.ndim == 2:
            fmt = fmt or "gray"
            h, w = array.shape
            row, col = array.strides
            if fmt != "gray":
                raise _bad_frame(f"a 2-D uint8 frame is gray, not {fmt!r}")
            if col != 1:
                raise _bad_frame(f"pixels within a row must be packed, got strides {array.strides}")
        elif array.ndim == 3 and array.shape[2] in (3, 4):
            h, w, c = array.shape
            fmt = fmt or ("rgb" if c == 3 else "rgba")
            if fmt not in (("rgb", "bgr") if c == 3 else ("rgba", "bgra")):
                raise _bad_frame(f"a frame with {c} channels cannot be {fmt!r}")
            row, col, chan = array.strides
            if chan != 1 or col != c:
                raise _bad_frame(f"pixels within a row must be packed ({c} bytes each), got strides {array.strides}")
        else:
            raise _bad_frame(f"a uint8 frame must be [H, W], [H, W, 3] or [H, W, 4], got {array.shape}")
    else:
        raise _bad_frame(f"frames must be uint8 or float32, got {array.dtype}")
    if row <= 0:
        raise _bad_frame(f"rows must go forward in memory, got strides {array.strides}")
    if fmt not in PIXEL_FORMATS:
        raise _bad_frame(f"unknown pixel format {fmt!r}; one of {sorted(PIXEL_FORMATS)}")
    f = _Frame()
    check(lib.slotrt_frame_init(ctypes.byref(f), array.ctypes.data, w, h, PIXEL_FORMATS[fmt]))
    f.stride, f.timestamp_ns, f.tag = row, timestamp_ns, tag
    return f


def _bad_frame(message: str) -> InvalidArgumentError:
    return InvalidArgumentError(2, "SLOTRT_STATUS_INVALID_ARGUMENT", message)


def _closed(what: str) -> ClosedError:
    return ClosedError(12, "SLOTRT_STATUS_CLOSED", f"the {what} is closed")


# ---- results ---------------------------------------------------------------

@dataclass
class Result:
    """One frame's output. Arrays are owned by this object (numpy), so
    `torch.from_numpy(result.slots)` shares them without a copy."""

    slots: np.ndarray          # [K, D] float32
    masks: np.ndarray          # [K, h, w] float32, sum to 1 over K
    active: np.ndarray         # [K] bool
    ids: np.ndarray            # [K] uint32, stable while a slot follows its object
    labels: Optional[np.ndarray]  # [H, W] uint8 argmax slot (session label_maps) or None
    frame_index: int = 0
    episode: int = 0
    starts_episode: bool = False
    timestamp_ns: int = 0
    tag: int = 0
    latency_us: tuple = (0, 0, 0)  # (queue, model, total)


@dataclass
class BatchResult:
    """Results of one `Session.step`, stacked over the N environments."""

    slots: np.ndarray          # [N, K, D] float32
    masks: np.ndarray          # [N, K, h, w] float32
    active: np.ndarray         # [N, K] bool
    ids: np.ndarray            # [N, K] uint32
    labels: Optional[np.ndarray]  # [N, H, W] uint8 or None
    episode: np.ndarray        # [N] uint64
    starts_episode: np.ndarray  # [N] bool


@dataclass(frozen=True)
class ModelInfo:
    num_slots: int
    slot_dim: int
    input_size: tuple          # (height, width)
    mask_size: tuple           # decoder masks (height, width)
    attention_size: tuple      # attention masks (height, width)
    init: str                  # gaussian / learned_queries / conditional
    has_predictor: bool
    description: str
    device: str
    precision: str             # fp32 / bf16 / fp16: what the model runs in
    masks: str                 # decoder / attention: the masks it segments with
    layout: str                # nchw / channels_last: the encoder convolutions' memory layout


def _point(result: _Result, slots, masks, active, ids, labels) -> None:
    result.slots, result.slots_capacity = slots.ctypes.data_as(_f32p), slots.size
    result.masks, result.masks_capacity = masks.ctypes.data_as(_f32p), masks.size
    result.active, result.active_capacity = active.ctypes.data_as(_u8p), active.size
    result.slot_ids, result.slot_ids_capacity = ids.ctypes.data_as(_u32p), ids.size
    if labels is not None:
        result.labels, result.labels_capacity = labels.ctypes.data_as(_u8p), labels.size


# ---- handles ---------------------------------------------------------------

class _Handle:
    """Owns one C handle: `close()` frees it (also on garbage collection
    and at the end of a `with` block); use after close raises ClosedError."""

    _what = "handle"
    _free_name = ""
    _handle = None

    @property
    def handle(self) -> ctypes.c_void_p:
        if self._handle is None:
            raise _closed(self._what)
        return self._handle

    def close(self) -> None:
        if self._handle is not None:
            getattr(lib, self._free_name)(self._handle)
            self._handle = None

    def __del__(self):
        self.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class Model(_Handle):
    """An immutable loaded model; share it between sessions and threads.
    Closing it releases this reference only: sessions made from it keep
    working."""

    _what, _free_name = "model", "slotrt_model_free"

    def __init__(self, handle: ctypes.c_void_p):
        self._handle = handle
        raw = _ModelInfo(struct_size=ctypes.sizeof(_ModelInfo))
        check(lib.slotrt_model_get_info(handle, ctypes.byref(raw)))
        self.info = ModelInfo(
            num_slots=raw.num_slots, slot_dim=raw.slot_dim,
            input_size=(raw.input_height, raw.input_width),
            mask_size=(raw.mask_height, raw.mask_width),
            attention_size=(raw.attention_height, raw.attention_width),
            init=INIT_KINDS.get(raw.init, "unknown"), has_predictor=bool(raw.has_predictor),
            description=raw.description.decode("utf-8", "replace"),
            device="cpu" if raw.device_type == 0 else f"cuda:{raw.device_index}",
            precision={v: k for k, v in PRECISIONS.items()}.get(raw.precision, "unknown"),
            masks={v: k for k, v in MASK_SOURCES.items()}.get(raw.masks, "unknown"),
            layout={v: k for k, v in LAYOUTS.items()}.get(raw.layout, "unknown"),
        )

    @classmethod
    def load(cls, path, device: str = "cpu", threads: int = 0, precision: str = "fp32",
             layout: str = "auto") -> "Model":
        """Loads a bundle. `device`: "cpu", "cuda" or "cuda:N"; `threads`:
        libtorch intra-op threads (0: libtorch's default; process-wide);
        `precision` of the encoder convolutions: "fp32" (exact), "bf16",
        "fp16" (CUDA only) or "auto" (bf16 where it is faster: CUDA, or a
        CPU with AMX-BF16); `info.precision` says what was chosen.
        `layout` of the encoder convolutions: "auto" (channels-last on
        CPUs with AVX-512, where it is faster), "nchw" or "channels_last";
        `info.layout` says what was chosen."""
        opts = _ModelOptions()
        check(lib.slotrt_model_options_init(ctypes.byref(opts)))
        if device == "cpu":
            pass
        elif device.startswith("cuda"):
            opts.device_type = 1
            opts.device_index = int(device.split(":")[1]) if ":" in device else 0
        else:
            raise InvalidArgumentError(2, "SLOTRT_STATUS_INVALID_ARGUMENT", f"unknown device {device!r}")
        opts.threads = threads
        if precision not in PRECISIONS:
            raise InvalidArgumentError(2, "SLOTRT_STATUS_INVALID_ARGUMENT",
                                       f"precision must be one of {sorted(PRECISIONS)}, got {precision!r}")
        opts.precision = PRECISIONS[precision]
        if layout not in LAYOUTS:
            raise InvalidArgumentError(2, "SLOTRT_STATUS_INVALID_ARGUMENT",
                                       f"layout must be one of {sorted(LAYOUTS)}, got {layout!r}")
        opts.layout = LAYOUTS[layout]
        handle = ctypes.c_void_p()
        check(lib.slotrt_model_load(str(path).encode(), ctypes.byref(opts), ctypes.byref(handle)))
        return cls(handle)




class Session(_Handle):
    """A model's streams and the worker that batches them across streams.
    Closing it stops the worker and closes every stream of the session."""

    _what, _free_name = "session", "slotrt_session_free"

    def __init__(self, model: Model, *, max_batch: int = 8, max_wait_ms: float = 2.0,
                 queue_depth: int = 4, overflow: str = "keep_latest", deterministic: bool = False,
                 seed: int = 0, warmup: bool = True, masks: str = "model", label_maps: bool = False,
                 refine: str = "model"):
        """`masks`: model, decoder or attention. `refine`: model (the
        bundle's setting), off (native mask size) or guided (colour guided
        filter at the input size); `mask_size` says what results carry."""
        self._handle = None
        if overflow not in OVERFLOW:
            raise InvalidArgumentError(2, "SLOTRT_STATUS_INVALID_ARGUMENT",
                                       f"overflow must be one of {sorted(OVERFLOW)}, got {overflow!r}")
        if masks not in MASK_SOURCES:
            raise InvalidArgumentError(2, "SLOTRT_STATUS_INVALID_ARGUMENT",
                                       f"masks must be one of {sorted(MASK_SOURCES)}, got {masks!r}")
        if refine not in MASK_REFINEMENTS:
            raise InvalidArgumentError(2, "SLOTRT_STATUS_INVALID_ARGUMENT",
                                       f"refine must be one of {sorted(MASK_REFINEMENTS)}, got {refine!r}")
        opts = _SessionOptions()
        check(lib.slotrt_session_options_init(ctypes.byref(opts)))
        opts.mask_refinement = MASK_REFINEMENTS[refine]
        opts.max_batch, opts.max_wait_us, opts.queue_depth = max_batch, int(max_wait_ms * 1000), queue_depth
        opts.overflow, opts.deterministic, opts.seed = OVERFLOW[overflow], deterministic, seed
        opts.warmup, opts.mask_source, opts.label_maps = warmup, MASK_SOURCES[masks], label_maps
        handle = ctypes.c_void_p()
        check(lib.slotrt_session_create(model.handle, ctypes.byref(opts), ctypes.byref(handle)))
        self._handle = handle
        self.info = model.info
        self.label_maps = label_maps
        h, w = ctypes.c_uint32(), ctypes.c_uint32()
        check(lib.slotrt_session_get_mask_size(handle, ctypes.byref(h), ctypes.byref(w)))
        self.mask_size = (h.value, w.value)
        self._streams = []


    def start_finetune(self, **options) -> "Finetuning":
        """Starts online fine-tuning while the session serves; `options`
        are slotrt_finetune_options fields (see slotrt.finetune). Returns a
        handle to pause / resume / revert / stop it; as a context manager
        it stops on exit."""
        from .finetune import Finetuning

        return Finetuning(self, **options)

    finetuning = start_finetune

    def save_model(self, path) -> None:
        """Saves the weights serving now (fine-tuned or not) as a bundle."""
        from .finetune import save_model

        save_model(self, path)

    def open_stream(self) -> "Stream":
        handle = ctypes.c_void_p()
        check(lib.slotrt_stream_open(self.handle, ctypes.byref(handle)))
        return Stream(self, handle)

    def _new_result(self, frame_shape: Optional[tuple]) -> Result:
        k, d = self.info.num_slots, self.info.slot_dim
        labels = np.empty(frame_shape, np.uint8) if self.label_maps and frame_shape else None
        return Result(np.empty((k, d), np.float32), np.empty((k, *self.mask_size), np.float32),
                      np.empty(k, np.bool_), np.empty(k, np.uint32), labels)

    def step(self, frames, reset_mask, fmt: Optional[str] = None,
             out: Optional[BatchResult] = None) -> BatchResult:
        """Steps N environments at once: frames [N, H, W, C] uint8 (or a
        sequence of frames), reset_mask [N] (true on an episode's first
        observation: gymnasium autoreset). One C call; `out` reuses arrays."""
        n = len(frames)
        resets = np.ascontiguousarray(np.asarray(reset_mask, dtype=np.bool_)).view(np.uint8)
        if resets.shape != (n,):
            raise _bad_frame(f"reset_mask must have shape ({n},), got {resets.shape}")
        c_frames = (_Frame * n)(*[_frame(frames[i], fmt) for i in range(n)])
        k, d = self.info.num_slots, self.info.slot_dim
        h, w = self.mask_size
        if out is None:
            label_shape = None
            if self.label_maps:
                label_shape = (n, c_frames[0].height, c_frames[0].width)
                if any((f.height, f.width) != label_shape[1:] for f in c_frames):
                    raise _bad_frame("with label maps, step() needs frames of one size")
            out = BatchResult(
                np.empty((n, k, d), np.float32), np.empty((n, k, h, w), np.float32),
                np.empty((n, k), np.bool_), np.empty((n, k), np.uint32),
                np.empty(label_shape, np.uint8) if label_shape else None,
                np.empty(n, np.uint64), np.empty(n, np.bool_))
        results = (_Result * n)()
        for i in range(n):
            check(lib.slotrt_result_init(ctypes.byref(results[i])))
            labels = out.labels[i] if out.labels is not None else None
            _point(results[i], out.slots[i], out.masks[i], out.active[i].view(np.uint8), out.ids[i], labels)
        check(lib.slotrt_session_step(self.handle, n, c_frames, resets.ctypes.data_as(_u8p), results))
        for i in range(n):
            out.episode[i] = results[i].info.episode
            out.starts_episode[i] = results[i].info.starts_episode
        return out

    @property
    def stats(self) -> dict:
        raw = _SessionStats(struct_size=ctypes.sizeof(_SessionStats))
        check(lib.slotrt_session_get_stats(self.handle, ctypes.byref(raw)))
        stats = {name: getattr(raw, name) for name, _ in _SessionStats._fields_[1:9]}
        for stage in ("queue", "model", "total"):
            lat = getattr(raw, stage)
            stats[f"{stage}_us"] = {n: getattr(lat, n) for n, _ in _Latency._fields_}
        return stats



class Stream(_Handle):
    """One camera or environment; slots carry over from frame to frame."""

    _what, _free_name = "stream", "slotrt_stream_free"

    def __init__(self, session: Session, handle: ctypes.c_void_p):
        self._session = session
        self._handle = handle
        self._c_result = _Result()
        check(lib.slotrt_result_init(ctypes.byref(self._c_result)))
        # Label maps come at the pushed frame's size: poll sizes for the largest.
        self._max_pixels = 1


    def push(self, frame: np.ndarray, fmt: Optional[str] = None, timestamp_ns: int = 0, tag: int = 0,
             ids: Optional[np.ndarray] = None) -> None:
        """Queues a frame for the session's worker (copied during the call).
        `ids`: the frame's instance ids [H, W] (0 = background, any number
        of instances, the same id for the same object in every frame, e.g.
        a simulator's segmentation), which guided fine-tuning learns from."""
        f = _frame(frame, fmt, timestamp_ns, tag)
        if ids is None:
            check(lib.slotrt_stream_push(self.handle, ctypes.byref(f)))
        else:
            ids = _instance_ids(ids, f)
            check(lib.slotrt_stream_push_with_masks(self.handle, ctypes.byref(f), ids.ctypes.data_as(_u8p), ids.size))
        self._max_pixels = max(self._max_pixels, f.width * f.height)

    def _prepare(self, label_shape: Optional[tuple]) -> Result:
        r = self._session._new_result(label_shape)
        _point(self._c_result, r.slots, r.masks, r.active.view(np.uint8), r.ids, r.labels)
        if r.labels is None:
            self._c_result.labels, self._c_result.labels_capacity = None, 0
        return r

    def _finish(self, r: Result) -> Result:
        info = self._c_result.info
        r.frame_index, r.episode, r.starts_episode = info.frame_index, info.episode, bool(info.starts_episode)
        r.timestamp_ns, r.tag = info.timestamp_ns, info.tag
        r.latency_us = (info.queue_us, info.model_us, info.total_us)
        if r.labels is not None:
            r.labels = r.labels[: info.label_height * info.label_width].reshape(info.label_height, info.label_width)
        return r

    def poll(self, timeout: Optional[float] = None) -> Optional[Result]:
        """The next result, waiting up to `timeout` seconds (None: for
        ever); None when nothing arrived in time."""
        ms = WAIT_FOREVER if timeout is None else max(0, int(timeout * 1000))
        r = self._prepare((self._max_pixels,) if self._session.label_maps else None)
        try:
            check(lib.slotrt_stream_poll(self.handle, ms, ctypes.byref(self._c_result)))
        except TimeoutError_:
            return None
        return self._finish(r)

    def process(self, frame: np.ndarray, fmt: Optional[str] = None, timestamp_ns: int = 0, tag: int = 0) -> Result:
        """Steps one frame on this thread (lowest latency; nothing queued)."""
        f = _frame(frame, fmt, timestamp_ns, tag)
        r = self._prepare((f.height * f.width,) if self._session.label_maps else None)
        check(lib.slotrt_stream_process(self.handle, ctypes.byref(f), ctypes.byref(self._c_result)))
        return self._finish(r)

    def reset(self) -> None:
        """The next frame starts a new episode (fresh slots, new ids)."""
        check(lib.slotrt_stream_reset(self.handle))

    @property
    def state(self) -> np.ndarray:
        """The carried slots [K, D] (the next frame's initial slots)."""
        out = np.empty((self._session.info.num_slots, self._session.info.slot_dim), np.float32)
        check(lib.slotrt_stream_get_state(self.handle, out.ctypes.data_as(_f32p), out.size))
        return out

    @state.setter
    def state(self, slots: np.ndarray) -> None:
        slots = np.ascontiguousarray(slots, dtype=np.float32)
        check(lib.slotrt_stream_set_state(self.handle, slots.ctypes.data_as(_f32p), slots.size))

    def seed_slots(self, slots: np.ndarray) -> None:
        """Starts a new episode at the next frame from these slots [K, D]."""
        slots = np.ascontiguousarray(slots, dtype=np.float32)
        check(lib.slotrt_stream_seed_slots(self.handle, slots.ctypes.data_as(_f32p), slots.size))

    def seed_boxes(self, boxes: np.ndarray) -> None:
        """Starts a new episode from boxes [K, 4] (conditional models)."""
        boxes = np.ascontiguousarray(boxes, dtype=np.float32)
        check(lib.slotrt_stream_seed_boxes(self.handle, boxes.ctypes.data_as(_f32p), boxes.size))

    @property
    def stats(self) -> dict:
        raw = _StreamStats(struct_size=ctypes.sizeof(_StreamStats))
        check(lib.slotrt_stream_get_stats(self.handle, ctypes.byref(raw)))
        return {name: getattr(raw, name) for name, _ in _StreamStats._fields_[1:]}

