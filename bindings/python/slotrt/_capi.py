"""Loads libslotrt and declares the C signatures used by this package."""

from __future__ import annotations

import ctypes
import os
from pathlib import Path

# Must equal SLOTRT_ABI_VERSION of the header this module was written against.
ABI_VERSION = 1
STATUS_OK = 0

_STATUS_NAMES = {}


class SlotrtError(RuntimeError):
    """A slotrt call failed. `status` is the C status code, `status_name` its
    name (e.g. "SLOTRT_STATUS_NULL_ARGUMENT"), and the message is the
    library's own (slotrt_last_error_message)."""

    def __init__(self, status: int, status_name: str, message: str):
        super().__init__(f"{status_name}: {message}")
        self.status = status
        self.status_name = status_name
        self.message = message


def _find_library() -> Path:
    env = os.environ.get("SLOTRT_LIBRARY")
    if env:
        return Path(env)
    root = Path(__file__).resolve().parents[3]
    for profile in ("release", "debug"):
        candidate = root / "target" / profile / "libslotrt.so"
        if candidate.exists():
            return candidate
    raise OSError(
        "libslotrt.so not found: build it with `cargo build` or set SLOTRT_LIBRARY"
    )


library_path = _find_library()
lib = ctypes.CDLL(str(library_path))

_i32p = ctypes.POINTER(ctypes.c_int32)
_f64p = ctypes.POINTER(ctypes.c_double)

lib.slotrt_version.restype = ctypes.c_char_p
lib.slotrt_version.argtypes = []
lib.slotrt_abi_version.restype = ctypes.c_uint32
lib.slotrt_check_abi.restype = ctypes.c_int32
lib.slotrt_check_abi.argtypes = [ctypes.c_uint32]
lib.slotrt_last_error_message.restype = ctypes.c_char_p
lib.slotrt_status_name.restype = ctypes.c_char_p
lib.slotrt_status_name.argtypes = [ctypes.c_int32]
lib.slotrt_cuda_available.restype = ctypes.c_bool
for _name in ("slotrt_ari", "slotrt_fg_ari"):
    getattr(lib, _name).restype = ctypes.c_int32
    getattr(lib, _name).argtypes = [_i32p, _i32p, ctypes.c_size_t, _f64p]


def check(status: int) -> None:
    """Raises SlotrtError for a non-OK status, with the thread's message."""
    if status != STATUS_OK:
        message = lib.slotrt_last_error_message().decode("utf-8", "replace")
        name = lib.slotrt_status_name(status).decode()
        raise SlotrtError(status, name, message)


def version() -> str:
    return lib.slotrt_version().decode()


def abi_version() -> int:
    return int(lib.slotrt_abi_version())


def cuda_available() -> bool:
    return bool(lib.slotrt_cuda_available())


check(lib.slotrt_check_abi(ABI_VERSION))
