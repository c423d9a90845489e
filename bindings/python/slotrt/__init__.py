"""Python access to slotrt through its C ABI (include/slotrt.h), via ctypes.

This is the start of the Python binding: library loading, status codes as
exceptions, version checks, segmentation metrics and the synthetic clip
generator. The library is found through $SLOTRT_LIBRARY, else the repo's
target/{release,debug}/libslotrt.so.
"""

from ._capi import SlotrtError, abi_version, cuda_available, library_path, version
from .metrics import ClipScores, ari, fg_ari, score_clip
from .synth import Clip, generate_clip

__all__ = [
    "SlotrtError",
    "abi_version",
    "cuda_available",
    "library_path",
    "version",
    "ClipScores",
    "ari",
    "fg_ari",
    "score_clip",
    "Clip",
    "generate_clip",
]
