#!/usr/bin/env bash
# Idempotent setup: a project-local Python venv holding libtorch (torch==2.13.0
# from PyPI, which tch 0.26 requires) and the Python test dependencies.
# Re-running reuses what is there. Users with their own libtorch set LIBTORCH
# instead (see README) and only need the Python part for the Python tests.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="${SLOTRT_VENV:-$root/.venv}"
torch_version="2.13.0"
py_test_deps=(numpy scikit-learn scipy pytest safetensors gymnasium matplotlib mujoco imageio)

log() { printf '[setup] %s\n' "$*" >&2; }

if [ ! -x "$venv/bin/python" ]; then
  log "creating virtual environment $venv"
  python3 -m venv "$venv"
fi
py="$venv/bin/python"

have_torch="$("$py" -c 'import torch; print(torch.__version__.split("+")[0])' 2>/dev/null || true)"
if [ -z "${LIBTORCH:-}" ] && [ "$have_torch" != "$torch_version" ]; then
  log "installing torch==$torch_version into $venv (large download, once)"
  "$py" -m pip install --disable-pip-version-check -q "torch==$torch_version"
fi

# MuJoCo renders offscreen through OSMesa on machines without a GPU
# (slotrt.mujoco_scenes, slotrt.robot_scenes and their tests).
if ! ldconfig -p 2>/dev/null | grep -q libOSMesa; then
  log "installing libosmesa6 (offscreen OpenGL for MuJoCo)"
  sudo_=""; [ "$(id -u)" -ne 0 ] && sudo_="sudo"
  $sudo_ apt-get install -y -q libosmesa6 >/dev/null 2>&1 \
    || { $sudo_ apt-get update -q >/dev/null 2>&1 && $sudo_ apt-get install -y -q libosmesa6 >/dev/null 2>&1; } \
    || log "could not install libosmesa6: MuJoCo rendering tests will fail"
fi

missing=()
for dep in "${py_test_deps[@]}"; do
  mod="$dep"; [ "$dep" = scikit-learn ] && mod=sklearn
  "$py" -c "import $mod" 2>/dev/null || missing+=("$dep")
done
if [ "${#missing[@]}" -gt 0 ]; then
  log "installing Python test dependencies: ${missing[*]}"
  "$py" -m pip install --disable-pip-version-check -q "${missing[@]}"
fi
# The Python package (ctypes binding, PyTorch reference, exporter), editable
# so that the checkout's code is what runs.
if ! "$py" -c 'import slotrt.torch_ref' 2>/dev/null; then
  log "installing bindings/python (editable)"
  "$py" -m pip install --disable-pip-version-check -q --no-deps --no-build-isolation -e "$root/bindings/python"
fi
log "ok: $("$py" -c 'import torch; print("torch", torch.__version__, torch.__file__)' 2>/dev/null || echo 'torch from $LIBTORCH')"
