"""Clip files: the format users hand in their own recordings, and the one the
MuJoCo scene renderer (`slotrt.mujoco_scenes`) writes.

A clip is either
* a `.npz` file with `frames` [T, H, W, 3] uint8 (RGB) and, optionally,
  `ids` [T, H, W] integer instance ids in 0..255 (0 = background; an id
  names the same object in every frame of the clip), or
* a folder of `frame_NNN.png` (RGB) and optionally `ids_NNN.png` (8-bit
  grey = instance id), as `slotrt synth` writes them.

The Rust side reads the same files (`src/data/files.rs`); both refuse a bad
clip with an error that names the file and the field.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np


class ClipFileError(ValueError):
    """A clip file that cannot be used; the message names the file and field."""


def _check(path, frames: np.ndarray, ids: np.ndarray | None):
    if frames.ndim != 4 or frames.shape[-1] != 3:
        raise ClipFileError(f"{path}: field 'frames' must be [T, H, W, 3], got shape {list(frames.shape)}")
    if frames.shape[0] == 0:
        raise ClipFileError(f"{path}: field 'frames' holds no frames (empty clip)")
    if frames.dtype != np.uint8:
        raise ClipFileError(f"{path}: field 'frames' must be uint8, got {frames.dtype}")
    if ids is None:
        return
    if ids.shape != frames.shape[:3]:
        raise ClipFileError(
            f"{path}: field 'ids' has shape {list(ids.shape)} but 'frames' needs {list(frames.shape[:3])} (T, H, W)"
        )
    if not np.issubdtype(ids.dtype, np.integer):
        raise ClipFileError(f"{path}: field 'ids' must hold integers, got {ids.dtype}")
    if ids.size and (ids.min() < 0 or ids.max() > 255):
        raise ClipFileError(f"{path}: field 'ids' must be in 0..255, found {int(ids.min())}..{int(ids.max())}")


def save_clip(path, frames: np.ndarray, ids: np.ndarray | None = None, png: bool = False) -> None:
    """Writes a clip as `.npz` (or a PNG folder with `png=True`), atomically:
    a failed write leaves nothing behind."""
    frames = np.asarray(frames)
    ids = None if ids is None else np.asarray(ids)
    _check(path, frames, ids)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if not png:
        fields = {"frames": frames} if ids is None else {"frames": frames, "ids": ids.astype(np.uint8)}
        fd, tmp = tempfile.mkstemp(prefix=path.name, suffix=".tmp", dir=path.parent)
        try:
            with os.fdopen(fd, "wb") as f:
                np.savez_compressed(f, **fields)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return
    from PIL import Image

    tmp = Path(tempfile.mkdtemp(prefix=path.name, suffix=".tmp", dir=path.parent))
    try:
        digits = max(3, len(str(len(frames) - 1)))
        for t, frame in enumerate(frames):
            Image.fromarray(frame, "RGB").save(tmp / f"frame_{t:0{digits}d}.png")
            if ids is not None:
                Image.fromarray(ids[t].astype(np.uint8), "L").save(tmp / f"ids_{t:0{digits}d}.png")
        if path.exists():
            import shutil

            shutil.rmtree(path)
        os.replace(tmp, path)
    except BaseException:
        import shutil

        shutil.rmtree(tmp, ignore_errors=True)
        raise


def load_clip(path) -> tuple[np.ndarray, np.ndarray | None]:
    """(frames [T, H, W, 3] uint8, ids [T, H, W] uint8 or None)."""
    path = Path(path)
    if not path.exists():
        raise ClipFileError(f"{path}: no such clip file or folder")
    if path.is_dir():
        from PIL import Image

        frame_files = sorted(path.glob("frame_*.png"))
        if not frame_files:
            raise ClipFileError(f"{path}: field 'frames' missing: no frame_NNN.png in the folder")
        frames = np.stack([np.asarray(Image.open(f).convert("RGB")) for f in frame_files])
        id_files = sorted(path.glob("ids_*.png"))
        ids = None
        if id_files:
            if [f.name[4:] for f in id_files] != [f.name[6:] for f in frame_files]:
                raise ClipFileError(f"{path}: field 'ids': ids_NNN.png files do not match the frame_NNN.png files one to one")
            ids = np.stack([np.asarray(Image.open(f)) for f in id_files])
    else:
        try:
            with np.load(path, allow_pickle=False) as z:
                if "frames" not in z.files:
                    raise ClipFileError(f"{path}: field 'frames' missing (fields: {', '.join(z.files) or 'none'})")
                frames = z["frames"]
                ids = z["ids"] if "ids" in z.files else None
        except ClipFileError:
            raise
        except Exception as e:  # zip or npy damage
            raise ClipFileError(f"{path}: not a readable .npz clip ({e})") from e
    _check(path, frames, ids)
    return frames, None if ids is None else ids.astype(np.uint8)


def list_clips(path) -> list[Path]:
    """The clips under `path`: the file or folder itself if it is one clip,
    else every `.npz` and clip folder inside it, sorted by name."""
    path = Path(path)
    if not path.exists():
        raise ClipFileError(f"{path}: no such clip file or folder")
    if path.is_file() or any(path.glob("frame_*.png")):
        return [path]
    found = sorted(p for p in path.iterdir() if p.suffix == ".npz" or (p.is_dir() and any(p.glob("frame_*.png"))))
    if not found:
        raise ClipFileError(f"{path}: no clips (.npz files or frame_NNN.png folders) inside")
    return found


def progress(done: int, total: int) -> None:
    """One rewritten stderr line: a bar and the count of clips written."""
    import sys

    filled = 30 * done // max(total, 1)
    sys.stderr.write(f"\r[{'#' * filled}{'.' * (30 - filled)}] {done}/{total} clips" + ("\n" if done == total else ""))
    sys.stderr.flush()


def write_clips(out, indices, make) -> None:
    """Writes `make(i) -> (frames, ids)` as `out/clip_{i:05d}.npz` for each
    index, with a progress line: the CLI of every clip generator."""
    indices = list(indices)
    Path(out).mkdir(parents=True, exist_ok=True)
    for n, i in enumerate(indices, 1):
        frames, ids = make(i)
        save_clip(Path(out) / f"clip_{i:05d}.npz", frames, ids)
        progress(n, len(indices))
