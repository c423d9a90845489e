"""Builds the wheel with libslotrt.so inside (slotrt/lib/), so that
`pip install bindings/python` gives a self-contained package.

The library comes from $SLOTRT_LIBRARY if set, else the checkout's
target/release/libslotrt.so; if neither exists it is built with cargo
(LIBTORCH_USE_PYTORCH=1, using the torch of the Python running the build,
so pass --no-build-isolation). libslotrt.so finds libtorch through an rpath
to that torch's lib/ folder, which is why the wheel is for the environment
it was built in: the same libtorch `import torch` loads there.
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]


def _library() -> Path:
    env = os.environ.get("SLOTRT_LIBRARY")
    if env:
        return Path(env)
    built = ROOT / "target" / "release" / "libslotrt.so"
    if not built.exists():
        if not (ROOT / "Cargo.toml").exists():
            raise SystemExit("libslotrt.so not found: set SLOTRT_LIBRARY or build from the slotrt checkout")
        env = dict(os.environ, LIBTORCH_USE_PYTORCH="1")
        env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
        subprocess.run(["cargo", "build", "--release", "--lib"], cwd=ROOT, env=env, check=True)
    return built


class BuildWithLibrary(build_py):
    def run(self):
        super().run()
        target = Path(self.build_lib) / "slotrt" / "lib"
        target.mkdir(parents=True, exist_ok=True)
        shutil.copy2(_library(), target / "libslotrt.so")


setup(cmdclass={"build_py": BuildWithLibrary})
