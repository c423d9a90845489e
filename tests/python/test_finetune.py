"""Online fine-tuning from Python: start / pause / resume / stop with the C
options, stats, revert, save, instance ids with pushed frames, and the
errors bad input gets."""

import time
from pathlib import Path

import numpy as np
import pytest

import slotrt

ROOT = Path(__file__).resolve().parents[2]
MODEL = ROOT / "models" / "savi-small-64.safetensors"


def stream_until(session, stream, tuner, steps, seconds=120):
    clip = slotrt.generate_clip("train", 3, frames=8)
    started = time.time()
    while tuner.stats.steps < steps and time.time() - started < seconds:
        for t in range(8):
            stream.push(clip.rgb[t], ids=clip.ids[t])
            stream.poll(timeout=30)
        stream.reset()
    return tuner.stats


def wait_for(condition, seconds=30):
    started = time.time()
    while not condition():
        if time.time() - started > seconds:
            return False
        time.sleep(0.02)
    return True


def test_guided_fine_tuning_runs_pauses_saves_and_reverts(tmp_path):
    with slotrt.Model.load(MODEL) as model, slotrt.Session(model, warmup=False) as session:
        with session.open_stream() as stream:
            with session.finetuning(guided=1.0, reconstruction=0.0, lr=1e-4, batch_clips=2, clip_frames=2,
                                    publish_every=1, seed=1, train={"grouping", "predictor"}) as tuner:
                stats = stream_until(session, stream, tuner, steps=2)
                assert stats.running and stats.steps >= 2 and stats.terms[3] > 0, stats
                assert stats.terms[0] == 0.0 and np.isfinite(stats.loss), stats
                tuner.pause()
                assert wait_for(lambda: tuner.stats.paused), "the trainer takes the pause at its next step"
                tuner.resume()
                assert wait_for(lambda: not tuner.stats.paused)
                session.save_model(tmp_path / "adapted.safetensors")
                tuner.revert()
            assert not tuner.final.running and tuner.final.steps >= 2, "the context manager stopped it"
            assert tuner.stop() is tuner.final, "stop is idempotent"
    with slotrt.Model.load(tmp_path / "adapted.safetensors") as adapted:
        assert "fine-tuned" in adapted.info.description


def test_bad_input_is_refused_and_changes_nothing(tmp_path):
    with slotrt.Model.load(MODEL) as model, slotrt.Session(model, warmup=False) as session:
        with pytest.raises(slotrt.InvalidArgumentError, match="lr"):
            session.start_finetune(lr=-1.0)
        with pytest.raises(TypeError, match="unknown fine-tuning option 'learning_rate'"):
            session.start_finetune(learning_rate=1e-3)
        with pytest.raises(slotrt.InvalidArgumentError, match="unknown parts"):
            session.start_finetune(train={"head"})
        with pytest.raises(slotrt.InvalidArgumentError, match="at least one term"):
            session.start_finetune(reconstruction=0.0)
        frame = slotrt.generate_clip("test", 0).rgb[0]
        with session.open_stream() as stream:
            with pytest.raises(slotrt.InvalidArgumentError, match=r"ids must have the frame's shape \(64, 64\)"):
                stream.push(frame, ids=np.zeros((64, 63), np.uint8))
            with pytest.raises(slotrt.InvalidArgumentError, match="0..255"):
                stream.push(frame, ids=np.full((64, 64), 300, np.int32))
            many = (np.arange(64 * 64).reshape(64, 64) % 40).astype(np.int64)
            stream.push(frame, ids=many)  # more instances than slots is fine
            assert stream.poll(timeout=30) is not None
        session.save_model(tmp_path / "before.safetensors")
        with pytest.raises(slotrt.Error):
            session.save_model(tmp_path / "no" / "such" / "dir" / "m.safetensors")
        session.save_model(tmp_path / "after.safetensors")
        assert (tmp_path / "before.safetensors").read_bytes() == (tmp_path / "after.safetensors").read_bytes(), \
            "serving weights untouched"
        assert sorted(p.name for p in tmp_path.rglob("*.safetensors*")) == ["after.safetensors", "before.safetensors"]
