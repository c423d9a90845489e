"""Loads libslotrt and declares the C signatures used by this package."""

from __future__ import annotations

import ctypes
import os
from pathlib import Path

# Must equal SLOTRT_ABI_VERSION of the header this module was written against.
ABI_VERSION = 7
STATUS_OK = 0

_STATUS_NAMES = {}


class Error(RuntimeError):
    """Base of every slotrt exception. `status` is the C status code,
    `status_name` its name (e.g. "SLOTRT_STATUS_NULL_ARGUMENT"), and the
    message is the library's own (slotrt_last_error_message). Errors found
    in Python before any C call (a frame of the wrong dtype, a closed
    handle) use the status the library would have given."""

    status_name = "SLOTRT_STATUS_UNKNOWN"

    def __init__(self, status: int, status_name: str, message: str):
        super().__init__(f"{status_name}: {message}")
        self.status = status
        self.status_name = status_name
        self.message = message


# The historical name, kept for callers of the first binding.
SlotrtError = Error


class NullArgumentError(Error, ValueError):
    pass


class InvalidArgumentError(Error, ValueError):
    """A value is out of range or inconsistent (also: a numpy frame of the
    wrong dtype or shape, or a layout no stride can describe)."""


class StructSizeError(Error):
    pass


class UnknownEnumError(Error, ValueError):
    pass


class BufferTooSmallError(Error, ValueError):
    pass


class IOError_(Error, OSError):
    """A file could not be read or written."""


class BadModelError(Error):
    """A model file is corrupt, truncated or does not match its config."""


class UnsupportedError(Error):
    pass


class DeviceUnavailableError(Error):
    pass


class QueueFullError(Error):
    pass


class TimeoutError_(Error, TimeoutError):
    pass


class ClosedError(Error):
    """The stream, session or model was closed."""


class AbiMismatchError(Error):
    pass


class BackendError(Error):
    """libtorch reported an error."""


class PanicError(Error):
    pass


class InternalError(Error):
    pass


# Index = slotrt_status value (stable numbers, see include/slotrt.h).
_BY_STATUS = [
    Error, NullArgumentError, InvalidArgumentError, StructSizeError, UnknownEnumError,
    BufferTooSmallError, IOError_, BadModelError, UnsupportedError, DeviceUnavailableError,
    QueueFullError, TimeoutError_, ClosedError, AbiMismatchError, BackendError, PanicError,
    InternalError,
]


def error_for(status: int, message: str) -> Error:
    """The exception for a status, with the library's name for it."""
    cls = _BY_STATUS[status] if 0 < status < len(_BY_STATUS) else Error
    return cls(status, lib.slotrt_status_name(status).decode(), message)


def _find_library() -> Path:
    """$SLOTRT_LIBRARY, else the copy bundled into an installed wheel, else
    the checkout's target/{release,debug} (editable installs, tests)."""
    env = os.environ.get("SLOTRT_LIBRARY")
    if env:
        return Path(env)
    bundled = Path(__file__).resolve().parent / "lib" / "libslotrt.so"
    if bundled.exists():
        return bundled
    root = Path(__file__).resolve().parents[3]
    # In a checkout, the most recently built profile is the one in use.
    built = [p for p in (root / "target" / prof / "libslotrt.so" for prof in ("release", "debug")) if p.exists()]
    if built:
        return max(built, key=lambda p: p.stat().st_mtime)
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
        raise error_for(status, lib.slotrt_last_error_message().decode("utf-8", "replace"))


def version() -> str:
    return lib.slotrt_version().decode()


def abi_version() -> int:
    return int(lib.slotrt_abi_version())


def cuda_available() -> bool:
    return bool(lib.slotrt_cuda_available())


check(lib.slotrt_check_abi(ABI_VERSION))
