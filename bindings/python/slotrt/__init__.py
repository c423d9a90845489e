"""Python access to slotrt through its C ABI (include/slotrt.h), via ctypes.

Models, sessions and streams (`slotrt.Model`, `slotrt.Session`,
`slotrt.Stream`), status codes as exceptions (all subclasses of
`slotrt.Error`), version checks, segmentation metrics and the synthetic
clip generator. The library is found through $SLOTRT_LIBRARY, else the
repo's target/{release,debug}/libslotrt.so; it links the libtorch of the
`torch` package it was built against, so `import torch` in the same process
shares that one copy.

The native library is loaded on first use of a name that needs it, so
`slotrt.torch_ref` (the PyTorch reference modules and bundle exporter) works
without it.
"""

import importlib

_EXPORTS = {
    "Error": "._capi",
    "SlotrtError": "._capi",
    "NullArgumentError": "._capi",
    "InvalidArgumentError": "._capi",
    "UnknownEnumError": "._capi",
    "BufferTooSmallError": "._capi",
    "BadModelError": "._capi",
    "UnsupportedError": "._capi",
    "DeviceUnavailableError": "._capi",
    "ClosedError": "._capi",
    "BackendError": "._capi",
    "Model": ".runtime",
    "ModelInfo": ".runtime",
    "Session": ".runtime",
    "Stream": ".runtime",
    "Result": ".runtime",
    "BatchResult": ".runtime",
    "abi_version": "._capi",
    "cuda_available": "._capi",
    "library_path": "._capi",
    "version": "._capi",
    "ClipScores": ".metrics",
    "ari": ".metrics",
    "fg_ari": ".metrics",
    "score_clip": ".metrics",
    "Finetuning": ".finetune",
    "FinetuneStats": ".finetune",
    "Clip": ".synth",
    "generate_clip": ".synth",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name):
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name], __name__), name)
    raise AttributeError(f"module 'slotrt' has no attribute {name!r}")
