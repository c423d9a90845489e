"""The Python examples run end to end (the policy training in a short mode)."""

import importlib.util
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]


def load(name):
    spec = importlib.util.spec_from_file_location(name, ROOT / "examples" / "python" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_stream_gif(tmp_path):
    out = load("stream_gif").main(["--out", str(tmp_path / "s.gif"), "--clip", "1"])
    assert out.exists() and out.stat().st_size > 1000


def test_vector_env(capsys):
    load("vector_env").main(["--envs", "3", "--steps", "10"])
    assert "(3, 6, 64) slots per step" in capsys.readouterr().out


def test_probe_reads_positions_from_slots_on_held_out_episodes():
    probe = load("probe")
    import slotrt
    with slotrt.Model.load(ROOT / "models" / "savi-small-64.safetensors") as model:
        result = probe.probe(model, episodes=40, steps=20)
        x, y, iou = probe.collect(model, episodes=6, steps=10, seed=1)
        xt, yt, _ = probe.collect(model, episodes=3, steps=10, seed=2)
    # The bar, on held-out episodes, over the objects the model
    # segments; and it must segment most of them.
    assert result["r2"] >= 0.9, result
    assert result["found"] >= 0.7 and result["test"] > 200, result
    assert x.shape[1] == 64 and y.shape[1] == 2 and ((0 <= iou) & (iou <= 1)).all()
    # A probe on shuffled targets explains nothing: the fit is real.
    shuffled = probe.fit_probe(x, np.random.default_rng(0).permutation(y), xt, yt)
    assert shuffled < 0.3, (result, shuffled)


def test_policy_quick(tmp_path):
    curves = load("policy").main(["--quick", "--out", str(tmp_path)])
    assert set(curves) == {"slots", "pixels"}
    assert (tmp_path / "learning_curves.png").stat().st_size > 1000
    assert (tmp_path / "curves.csv").read_text().startswith("observation,env_steps,mean_return")
