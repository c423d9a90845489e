"""`pip install bindings/python` gives a self-contained package: the wheel
carries libslotrt.so and the installed package loads that copy."""

import os
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_wheel_bundles_and_loads_the_library(tmp_path):
    # The library under test (scripts/test.sh names it), not a stale build.
    candidates = [os.environ.get("SLOTRT_LIBRARY"), ROOT / "target" / "release" / "libslotrt.so",
                  ROOT / "target" / "debug" / "libslotrt.so"]
    lib = next(Path(p).resolve() for p in candidates if p and Path(p).exists())
    env = dict(os.environ, SLOTRT_LIBRARY=str(lib))
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(tmp_path),
                    str(ROOT / "bindings" / "python")], check=True, env=env)
    wheel = next(tmp_path.glob("slotrt-*.whl"))
    assert "slotrt/lib/libslotrt.so" in zipfile.ZipFile(wheel).namelist()
    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(target), str(wheel)],
                   check=True)
    env = {k: v for k, v in os.environ.items() if k != "SLOTRT_LIBRARY"}
    env["PYTHONPATH"] = str(target)
    code = ("import slotrt, slotrt._capi as c; "
            f"m = slotrt.Model.load({str(ROOT / 'models' / 'savi-small-64.safetensors')!r}); "
            "print(c.library_path, m.info.num_slots)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=tmp_path,
                         check=True).stdout
    path, slots = out.split()
    assert Path(path).is_relative_to(target) and slots == "6"
