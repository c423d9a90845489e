"""Online fine-tuning from Python, over the C API's slotrt_session_finetune_*.

    with slotrt.Session(model) as session, session.open_stream() as camera:
        with session.finetuning(guided=1.0) as tuner:     # stops on exit
            for frame, ids in recording:
                camera.push(frame, ids=ids)               # instance ids guide the masks
                camera.poll()
            print(tuner.stats)
        session.save_model("adapted.safetensors")

Every field of `slotrt_finetune_options` is a keyword of
`Session.start_finetune` (same names; `device` is "cpu" or "cuda[:N]";
`train` a set of parts from {"encoder", "grouping", "predictor", "decoder"});
the library's defaults apply to the rest and out-of-range values raise
`InvalidArgumentError` with the library's message.
"""

from __future__ import annotations

import ctypes
from dataclasses import dataclass

from ._capi import check, lib

PARTS = {"encoder": 0, "grouping": 1, "predictor": 2, "decoder": 3}  # slotrt_part
DEVICE_TYPES = {"cpu": 0, "cuda": 1}  # slotrt_device_type


class _FinetuneOptions(ctypes.Structure):
    _fields_ = [
        ("struct_size", ctypes.c_uint32),
        ("device_type", ctypes.c_uint32),
        ("device_index", ctypes.c_uint32),
        ("lr", ctypes.c_float),
        ("warmup_steps", ctypes.c_uint32),
        ("frames_per_step", ctypes.c_uint32),
        ("max_steps_per_second", ctypes.c_float),
        ("replay_capacity", ctypes.c_uint32),
        ("recent_bias", ctypes.c_float),
        ("batch_clips", ctypes.c_uint32),
        ("clip_frames", ctypes.c_uint32),
        ("train_parts", ctypes.c_uint32),
        ("reconstruction", ctypes.c_float),
        ("self_distillation", ctypes.c_float),
        ("self_distillation_ramp_steps", ctypes.c_uint32),
        ("contrastive", ctypes.c_float),
        ("guided", ctypes.c_float),
        ("grad_clip", ctypes.c_float),
        ("publish_every", ctypes.c_uint32),
        ("explode_factor", ctypes.c_float),
        ("seed", ctypes.c_uint64),
        ("ema_decay", ctypes.c_float),
        ("decay_steps", ctypes.c_uint32),
        ("min_lr_ratio", ctypes.c_float),
    ]


class _FinetuneStats(ctypes.Structure):
    _fields_ = [
        ("struct_size", ctypes.c_uint32),
        ("running", ctypes.c_bool),
        ("paused", ctypes.c_bool),
        ("failed", ctypes.c_bool),
        ("steps", ctypes.c_uint64),
        ("samples", ctypes.c_uint64),
        ("publishes", ctypes.c_uint64),
        ("rollbacks", ctypes.c_uint64),
        ("replay_frames", ctypes.c_uint64),
        ("frames_seen", ctypes.c_uint64),
        ("loss", ctypes.c_double),
        ("loss_mean", ctypes.c_double),
        ("terms", ctypes.c_double * 4),
    ]


_vp = ctypes.c_void_p
for _name, _args in {
    "slotrt_finetune_options_init": [ctypes.POINTER(_FinetuneOptions)],
    "slotrt_session_finetune_enable": [_vp, ctypes.POINTER(_FinetuneOptions)],
    "slotrt_session_finetune_pause": [_vp, ctypes.c_bool],
    "slotrt_session_finetune_stop": [_vp, ctypes.POINTER(_FinetuneStats)],
    "slotrt_session_finetune_stats": [_vp, ctypes.POINTER(_FinetuneStats)],
    "slotrt_session_finetune_revert": [_vp],
    "slotrt_session_save_model": [_vp, ctypes.c_char_p],
}.items():
    getattr(lib, _name).restype = ctypes.c_int32
    getattr(lib, _name).argtypes = _args


@dataclass(frozen=True)
class FinetuneStats:
    """The trainer's counters; `terms` are the last step's reconstruction,
    self-distillation, contrastive and guided losses."""

    running: bool
    paused: bool
    failed: bool
    steps: int
    samples: int
    publishes: int
    rollbacks: int
    replay_frames: int
    frames_seen: int
    loss: float
    loss_mean: float
    terms: tuple


def _stats(raw: _FinetuneStats) -> FinetuneStats:
    values = {name: getattr(raw, name) for name, _ in _FinetuneStats._fields_[1:-1]}
    return FinetuneStats(terms=tuple(raw.terms), **values)


def options(**kw) -> _FinetuneOptions:
    """The C options: the library's defaults, then `kw`."""
    from ._capi import InvalidArgumentError

    opts = _FinetuneOptions()
    check(lib.slotrt_finetune_options_init(ctypes.byref(opts)))
    names = {n for n, _ in _FinetuneOptions._fields_} - {"struct_size", "device_type", "device_index", "train_parts"}
    for key, value in kw.items():
        if key == "device":
            kind, _, index = str(value).partition(":")
            if kind not in DEVICE_TYPES:
                raise InvalidArgumentError(2, "SLOTRT_STATUS_INVALID_ARGUMENT", f"device must be cpu or cuda[:N], got {value!r}")
            opts.device_type, opts.device_index = DEVICE_TYPES[kind], int(index or 0)
        elif key == "train":
            unknown = set(value) - set(PARTS)
            if unknown:
                raise InvalidArgumentError(2, "SLOTRT_STATUS_INVALID_ARGUMENT",
                                           f"unknown parts {sorted(unknown)}; parts are {sorted(PARTS)}")
            opts.train_parts = sum(1 << PARTS[p] for p in set(value))
        elif key in names:
            setattr(opts, key, value)
        else:
            raise TypeError(f"unknown fine-tuning option {key!r}; options are {sorted(names | {'device', 'train'})}")
    return opts


class Finetuning:
    """A running fine-tuning of a session; a context manager that stops it
    on exit. Made by `Session.finetuning` / `Session.start_finetune`."""

    def __init__(self, session, **kw):
        self._session = session
        check(lib.slotrt_session_finetune_enable(session.handle, ctypes.byref(options(**kw))))
        self.final: FinetuneStats | None = None

    @property
    def stats(self) -> FinetuneStats:
        raw = _FinetuneStats(struct_size=ctypes.sizeof(_FinetuneStats))
        check(lib.slotrt_session_finetune_stats(self._session.handle, ctypes.byref(raw)))
        return _stats(raw)

    def pause(self) -> None:
        check(lib.slotrt_session_finetune_pause(self._session.handle, True))

    def resume(self) -> None:
        check(lib.slotrt_session_finetune_pause(self._session.handle, False))

    def revert(self) -> None:
        """Serve the weights as loaded again; the trainer restarts from them."""
        check(lib.slotrt_session_finetune_revert(self._session.handle))

    def stop(self) -> FinetuneStats:
        """Stops after the current step (idempotent); the last published
        weights keep serving. Returns the final stats."""
        if self.final is None:
            raw = _FinetuneStats(struct_size=ctypes.sizeof(_FinetuneStats))
            check(lib.slotrt_session_finetune_stop(self._session.handle, ctypes.byref(raw)))
            self.final = _stats(raw)
        return self.final

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self._session._handle is not None:
            self.stop()


def save_model(session, path) -> None:
    """Saves the weights a session serves now as a bundle."""
    check(lib.slotrt_session_save_model(session.handle, str(path).encode()))
