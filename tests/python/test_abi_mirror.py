"""The Python binding's copy of the C ABI must match include/slotrt.h.

The ctypes binding re-declares the header's structs, enum values, status
numbers and ABI version by hand. Nothing ties those copies to the header, so
a header change (a new struct field, a renumbered enum, an added status)
would otherwise break Python silently. These tests parse the header and
compare: struct sizes through each struct's `slotrt_*_init` (which writes
the size the library expects into `struct_size`), every enum table, and
the ABI version. New structs, inits or enums in either place must be added
to the tables below, so nothing goes unchecked by omission.
"""

import ctypes
import re
from pathlib import Path

import pytest

from slotrt import _capi, finetune, metrics, runtime, scene, synth
from slotrt._capi import lib

ROOT = Path(__file__).resolve().parents[2]
HEADER = (ROOT / "include" / "slotrt.h").read_text()
BINDING = ROOT / "bindings" / "python" / "slotrt"


def _enums():
    """{"slotrt_status": {"SLOTRT_STATUS_OK": 0, ...}, ...}: cbindgen writes
    `enum slotrt_x ... { SLOTRT_X_A = 0, ... };` with explicit values."""
    out = {}
    for name, body in re.findall(r"^enum (slotrt_\w+)\b[^{;]*\{(.*?)^\};", HEADER, re.M | re.S):
        consts = re.findall(r"^\s*(SLOTRT_\w+)\s*(?:=\s*([^,\s]+))?\s*,", body, re.M)
        assert consts and all(v for _, v in consts), f"enum {name}: expected explicit values"
        out[name] = {k: int(v, 0) for k, v in consts}
    return out


def _prototypes():
    """{"slotrt_frame_init": ["struct slotrt_frame *frame", "const void *data", ...]}."""
    return {name: [p.strip() for p in params.split(",")]
            for name, params in re.findall(r"^slotrt_status (slotrt_\w+_init)\((.*?)\);", HEADER, re.M | re.S)}


ENUMS = _enums()
INITS = _prototypes()
DEFINES = dict(re.findall(r"^#define (SLOTRT_\w+) (\S+)$", HEADER, re.M))

# Every ctypes.Structure in the binding -> the C struct it mirrors.
MIRRORS = {
    runtime._Frame: "slotrt_frame",
    runtime._ResultInfo: "slotrt_result_info",
    runtime._Result: "slotrt_result",
    runtime._ModelOptions: "slotrt_model_options",
    runtime._ModelInfo: "slotrt_model_info",
    runtime._SessionOptions: "slotrt_session_options",
    runtime._Latency: "slotrt_latency",
    runtime._SessionStats: "slotrt_session_stats",
    runtime._StreamStats: "slotrt_stream_stats",
    metrics._ClipScores: "slotrt_clip_scores",
    scene._Object: "slotrt_scene_object",
    synth._Options: "slotrt_synth_options",
    synth._Info: "slotrt_synth_clip_info",
    finetune._FinetuneOptions: "slotrt_finetune_options",
    finetune._FinetuneStats: "slotrt_finetune_stats",
}

_PIXELS = (ctypes.c_uint8 * (2 * 2 * 3))()
# init function -> (Python struct, arguments after the struct pointer).
INIT_CASES = {
    "slotrt_frame_init": (runtime._Frame, (ctypes.addressof(_PIXELS), 2, 2,
                                           ENUMS["slotrt_pixel_format"]["SLOTRT_PIXEL_FORMAT_RGB8"])),
    "slotrt_result_init": (runtime._Result, ()),
    "slotrt_model_options_init": (runtime._ModelOptions, ()),
    "slotrt_session_options_init": (runtime._SessionOptions, ()),
    "slotrt_synth_options_init": (synth._Options, ()),
    "slotrt_finetune_options_init": (finetune._FinetuneOptions, ()),
}


def test_every_binding_struct_is_mirrored():
    declared = {(path.stem, name) for path in BINDING.glob("*.py")
                for name in re.findall(r"^class (\w+)\(ctypes\.Structure\)", path.read_text(), re.M)}
    listed = {(cls.__module__.rsplit(".", 1)[-1], cls.__name__) for cls in MIRRORS}
    assert declared == listed, "update MIRRORS for the binding's ctypes.Structure classes"
    for cname in MIRRORS.values():
        assert re.search(rf"^typedef struct {cname} \{{", HEADER, re.M), f"{cname} is not in the header"


def test_every_init_of_a_mirrored_struct_is_exercised():
    struct_of = {name: re.match(r"struct (slotrt_\w+) \*", params[0]).group(1) for name, params in INITS.items()}
    mirrored = set(MIRRORS.values())
    needed = {name for name, struct in struct_of.items() if struct in mirrored}
    assert needed == set(INIT_CASES), "INIT_CASES must call every header init of a struct Python mirrors"
    for name, (cls, _) in INIT_CASES.items():
        assert MIRRORS[cls] == struct_of[name], f"{name} fills {struct_of[name]}, not {MIRRORS[cls]}"


@pytest.mark.parametrize("init", sorted(INIT_CASES))
def test_struct_size_matches_library(init):
    cls, extra = INIT_CASES[init]
    fn = getattr(lib, init)
    assert len(INITS[init]) == 1 + len(extra), f"header signature changed: {INITS[init]}"
    assert fn.argtypes is None or len(fn.argtypes) == len(INITS[init]), "binding argtypes differ from the header"
    obj = cls()  # zeroed, struct_size 0
    assert fn(ctypes.byref(obj), *extra) == _capi.STATUS_OK, lib.slotrt_last_error_message()
    assert obj.struct_size == ctypes.sizeof(cls), (
        f"{init} expects sizeof({MIRRORS[cls]}) = {obj.struct_size}, "
        f"Python's {cls.__module__}.{cls.__name__} is {ctypes.sizeof(cls)} bytes")


def _camel_to_const(name):
    return re.sub(r"(?<=[a-z])(?=[A-Z])", "_", name.rstrip("_").removesuffix("Error")).upper()


def _status_literals():
    """Statuses the binding raises itself: `SomeError(12, "SLOTRT_STATUS_CLOSED", ...)`."""
    return [(name, int(num)) for path in sorted(BINDING.glob("*.py"))
            for num, name in re.findall(r"\b(\d+),\s*\"(SLOTRT_STATUS_\w+)\"", path.read_text())]


def _device_literals():
    """Model.load/Model.info write device types as literals."""
    src = (BINDING / "runtime.py").read_text()
    cpu = re.findall(r"raw\.device_type == (\d+)", src)
    cuda = re.findall(r"opts\.device_type = (\d+)", src)
    assert cpu and cuda, "runtime.py's device_type literals moved; update this test"
    return [("SLOTRT_DEVICE_TYPE_CPU", int(v)) for v in cpu] + [("SLOTRT_DEVICE_TYPE_CUDA", int(v)) for v in cuda]


def _table(prefix, table, rename=None):
    """[(header constant, Python value)] for a {python name: value} table."""
    rename = rename or {}
    return [(prefix + rename.get(k, k.upper()), v) for k, v in table.items()]


# id -> (C enum, [(header constant, Python value)], whether Python covers every constant)
ENUM_TABLES = {
    "_capi._BY_STATUS": ("slotrt_status", [
        ("SLOTRT_STATUS_" + ("OK" if cls is _capi.Error else _camel_to_const(cls.__name__)), i)
        for i, cls in enumerate(_capi._BY_STATUS)], True),
    "_capi.STATUS_OK": ("slotrt_status", [("SLOTRT_STATUS_OK", _capi.STATUS_OK)], False),
    "status literals": ("slotrt_status", _status_literals(), False),
    "runtime.PIXEL_FORMATS": ("slotrt_pixel_format", _table("SLOTRT_PIXEL_FORMAT_", runtime.PIXEL_FORMATS, {
        "rgb": "RGB8", "bgr": "BGR8", "rgba": "RGBA8", "bgra": "BGRA8", "gray": "GRAY8", "chw": "F32_CHW"}), True),
    "runtime.OVERFLOW": ("slotrt_overflow", _table("SLOTRT_OVERFLOW_", runtime.OVERFLOW), True),
    "runtime.MASK_SOURCES": ("slotrt_mask_source", _table("SLOTRT_MASK_SOURCE_", runtime.MASK_SOURCES), True),
    "runtime.MASK_REFINEMENTS": ("slotrt_mask_refinement", _table(
        "SLOTRT_MASK_REFINEMENT_", runtime.MASK_REFINEMENTS, {"guided": "GUIDED_FILTER"}), True),
    "runtime.INIT_KINDS": ("slotrt_init_kind", _table(
        "SLOTRT_INIT_KIND_", {v: k for k, v in runtime.INIT_KINDS.items()}), True),
    "runtime.PRECISIONS": ("slotrt_precision", _table("SLOTRT_PRECISION_", runtime.PRECISIONS), True),
    "runtime.LAYOUTS": ("slotrt_layout", _table("SLOTRT_LAYOUT_", runtime.LAYOUTS), True),
    "runtime device_type literals": ("slotrt_device_type", _device_literals(), True),
    "finetune.PARTS": ("slotrt_part", _table("SLOTRT_PART_", finetune.PARTS), True),
    "finetune.DEVICE_TYPES": ("slotrt_device_type", _table("SLOTRT_DEVICE_TYPE_", finetune.DEVICE_TYPES), True),
    "synth.SPLITS": ("slotrt_split", _table("SLOTRT_SPLIT_", synth.SPLITS, {"val": "VALIDATION"}), True),
}
# Header enums Python only passes through as raw bit sets or does not use.
NOT_MIRRORED = {"slotrt_shape", "slotrt_background", "slotrt_motion"}


def test_every_header_enum_is_accounted_for():
    mirrored = {enum for enum, _, _ in ENUM_TABLES.values()}
    assert set(ENUMS) == mirrored | NOT_MIRRORED, "add the new enum to ENUM_TABLES or NOT_MIRRORED"
    assert not mirrored & NOT_MIRRORED


@pytest.mark.parametrize("table", list(ENUM_TABLES))
def test_enum_table_matches_header(table):
    enum, pairs, complete = ENUM_TABLES[table]
    header = ENUMS[enum]
    assert pairs, f"{table} is empty"
    wrong = {name: (value, header.get(name, "missing")) for name, value in pairs if header.get(name) != value}
    assert not wrong, f"{table}: constant -> (Python value, header value): {wrong}"
    if complete:
        missing = set(header) - {name for name, _ in pairs}
        assert not missing, f"{table} lacks header constants {sorted(missing)}"


def test_abi_version_matches_header():
    assert _capi.ABI_VERSION == int(DEFINES["SLOTRT_ABI_VERSION"])
    assert _capi.abi_version() == _capi.ABI_VERSION, "the loaded library is not the header's ABI"


def test_wait_forever_matches_header():
    assert DEFINES["SLOTRT_WAIT_FOREVER"] == "UINT32_MAX"
    assert runtime.WAIT_FOREVER == 2**32 - 1
