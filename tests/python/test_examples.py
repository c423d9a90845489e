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


def test_probe_fits_on_held_out_episodes():
    probe = load("probe")
    import slotrt
    with slotrt.Model.load(ROOT / "models" / "savi-small-64.safetensors") as model:
        x, y = probe.collect(model, episodes=6, steps=10, seed=1)
        xt, yt = probe.collect(model, episodes=3, steps=10, seed=2)
    assert x.shape[1] == 64 and y.shape[1] == 2 and len(xt) > 20
    r2 = probe.fit_probe(x, y, xt, yt)
    # A probe on shuffled targets explains nothing: the fit is real.
    shuffled = probe.fit_probe(x, np.random.default_rng(0).permutation(y), xt, yt)
    assert r2 > shuffled + 0.3, (r2, shuffled)


def test_policy_quick(tmp_path):
    curves = load("policy").main(["--quick", "--out", str(tmp_path)])
    assert set(curves) == {"slots", "pixels"}
    assert (tmp_path / "learning_curves.png").stat().st_size > 1000
    assert (tmp_path / "curves.csv").read_text().startswith("observation,env_steps,mean_return")
