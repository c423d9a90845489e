"""The project's second world and its held-out families: MuJoCo object
scenes, gymnasium robot scenes, the independent 2D generator, and the clip
files they are written to (and users hand in)."""

import os
import subprocess
from pathlib import Path

os.environ.setdefault("MUJOCO_GL", "osmesa")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from slotrt.clips import ClipFileError, list_clips, load_clip, save_clip  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]


def test_mujoco_clips_are_deterministic_with_per_body_ids():
    from slotrt.mujoco_scenes import SceneConfig, render_clip

    cfg = SceneConfig(frames=4)
    a, b = render_clip("test", 3, cfg), render_clip("test", 3, cfg)
    assert np.array_equal(a.frames, b.frames) and np.array_equal(a.ids, b.ids)
    assert a.frames.shape == (4, 64, 64, 3) and a.ids.shape == (4, 64, 64)
    assert 1 <= a.num_objects <= 10 and a.ids.max() <= a.num_objects
    visible = set(np.unique(a.ids)) - {0}
    assert visible, "some body is on screen"
    # Each id covers pixels whose colour differs from the floor's: ids are
    # the renderer's, lined up with the image.
    assert (a.frames[a.ids > 0].std(0) > 0).any()
    other = render_clip("val", 3, cfg)
    assert not np.array_equal(a.frames, other.frames), "splits draw different scenes"


def test_robot_scenes_give_link_instances():
    from slotrt.robot_scenes import generate

    frames, ids, name = generate(0, frames=3)
    assert frames.shape == (3, 64, 64, 3) and ids.shape == (3, 64, 64)
    assert len(np.unique(ids)) >= 3, name
    again, _, _ = generate(0, frames=3)
    assert np.array_equal(frames, again)


def test_heldout_2d_generator_is_deterministic_and_exact():
    from slotrt.heldout2d import generate

    f, ids = generate(5, frames=3)
    f2, ids2 = generate(5, frames=3)
    assert np.array_equal(f, f2) and np.array_equal(ids, ids2)
    assert ids.max() >= 1 and f.dtype == np.uint8


@pytest.mark.parametrize("png", [False, True])
def test_clip_files_round_trip(tmp_path, png):
    rng = np.random.default_rng(0)
    frames = rng.integers(0, 256, (3, 8, 10, 3), dtype=np.uint8)
    ids = rng.integers(0, 5, (3, 8, 10), dtype=np.uint8)
    path = tmp_path / ("clip" if png else "clip.npz")
    save_clip(path, frames, ids, png=png)
    got_frames, got_ids = load_clip(path)
    assert np.array_equal(got_frames, frames) and np.array_equal(got_ids, ids)
    assert list_clips(tmp_path) == [path]


def test_bad_clip_files_name_the_file_and_field(tmp_path):
    frames = np.zeros((2, 4, 4, 3), np.uint8)
    cases = {
        "shape": (frames, np.zeros((2, 4, 5), np.uint8), "field 'ids' has shape"),
        "range": (frames, np.full((2, 4, 4), 300, np.int32), "field 'ids' must be in 0..255"),
        "empty": (np.zeros((0, 4, 4, 3), np.uint8), None, "holds no frames"),
        "dtype": (frames.astype(np.float32), None, "field 'frames' must be uint8"),
    }
    for name, (f, i, message) in cases.items():
        path = tmp_path / f"{name}.npz"
        with pytest.raises(ClipFileError, match=message):
            save_clip(path, f, i)
        assert not path.exists() and not list(tmp_path.glob(f"{name}*")), "nothing half-written"
        # The same clip written by hand is refused on reading, too.
        np.savez(path, frames=f, **({} if i is None else {"ids": i}))
        with pytest.raises(ClipFileError, match=message) as err:
            load_clip(path)
        assert str(path) in str(err.value)
    with pytest.raises(ClipFileError, match="no such clip"):
        load_clip(tmp_path / "missing.npz")
    np.savez(tmp_path / "noframes.npz", ids=np.zeros((1, 2, 2), np.uint8))
    with pytest.raises(ClipFileError, match="field 'frames' missing"):
        load_clip(tmp_path / "noframes.npz")


def test_slotrt_eval_scores_clip_files_and_names_bad_ones(tmp_path):
    binary = Path(os.environ.get("SLOTRT_LIBRARY", ROOT / "target/debug/libslotrt.so")).parent / "slotrt"
    if not binary.exists():
        pytest.skip(f"{binary} not built")
    import slotrt

    good = tmp_path / "good"
    for i in range(2):
        clip = slotrt.generate_clip("test", i, frames=4)
        save_clip(good / f"clip_{i:05d}.npz", clip.rgb, clip.ids)
    model = ROOT / "models" / "savi-small-64.safetensors"
    run = lambda data: subprocess.run(  # noqa: E731
        [str(binary), "eval", "--model", str(model), "--data", str(data), "--frames", "4", "--previews", "0",
         "--out", str(tmp_path / "eval")], capture_output=True, text=True)
    done = run(good)
    assert done.returncode == 0, done.stderr
    assert "2 clips" in done.stdout and "| carry-over |" in done.stdout
    fg_ari = float(done.stdout.split("| carry-over |")[1].split("|")[0])
    assert fg_ari > 0.8, done.stdout
    bad = tmp_path / "bad"
    np.savez(bad.with_suffix(".npz"), frames=np.zeros((2, 64, 64, 3), np.uint8), ids=np.zeros((2, 64, 60), np.uint8))
    failed = run(bad.with_suffix(".npz"))
    assert failed.returncode != 0 and "bad.npz" in failed.stderr and "field 'ids'" in failed.stderr, failed.stderr


def test_mujoco_example_writes_an_overlay_gif(tmp_path):
    import importlib.util

    spec = importlib.util.spec_from_file_location("mujoco_slots", ROOT / "examples" / "python" / "mujoco_slots.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    out, scores = module.main(["--frames", "4", "--out", str(tmp_path / "m.gif")])
    assert out.stat().st_size > 1000 and -1.0 <= scores.ari <= 1.0 and 0.0 <= scores.fg_ari <= 1.0
    out, _ = module.main(["--robot", "--frames", "3", "--out", str(tmp_path / "r.gif")])
    assert out.stat().st_size > 1000


def test_slotrt_finetune_adapts_on_clip_files(tmp_path):
    binary = Path(os.environ.get("SLOTRT_LIBRARY", ROOT / "target/debug/libslotrt.so")).parent / "slotrt"
    if not binary.exists():
        pytest.skip(f"{binary} not built")
    import slotrt

    for split, folder in (("train", "stream"), ("test", "held_out")):
        for i in range(2):
            clip = slotrt.generate_clip(split, i, frames=6)
            save_clip(tmp_path / folder / f"clip_{i}.npz", clip.rgb, clip.ids)
    args = [str(binary), "finetune", "--model", str(ROOT / "models" / "savi-small-64.safetensors"),
            "--data", str(tmp_path / "stream"), "--eval-data", str(tmp_path / "held_out"), "--guided",
            "--reconstruction", "0", "--minutes", "0.05", "--final-clips", "2", "--eval-clips", "2",
            "--eval-every", "600", "--out", str(tmp_path / "out")]
    done = subprocess.run(args, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "| streamed (shifted) |" in done.stdout and (tmp_path / "out" / "finetuned.safetensors").exists()
    np.savez(tmp_path / "stream" / "clip_9.npz", frames=np.zeros((6, 64, 64, 3), np.uint8),
             ids=np.zeros((5, 64, 64), np.uint8))
    failed = subprocess.run(args, capture_output=True, text=True)
    assert failed.returncode != 0 and "clip_9.npz" in failed.stderr and "field 'ids'" in failed.stderr
