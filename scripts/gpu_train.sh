#!/usr/bin/env bash
# Train the world model on a lent CUDA machine in one command (see
# models/README.md): unpack the carried GL loaders and MuJoCo wheels, render
# validation clips with EGL, then run scripts/train_torch.py for MINUTES of
# wall time while more MuJoCo clips render in the background. Results go to
# $OUT/run (model.safetensors, checkpoint.pt, log.jsonl).
#   carry: data/mujoco/train data/synth2d/train .whl .gl
set -uo pipefail
minutes="${1:-7.5}"
out="${OUT:-out/gpu}"
mkdir -p "$out/run"
for f in .gl/*.deb; do dpkg -x "$f" /; done; ldconfig
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl
export PYTHONPATH=/tmp/site:$PWD/bindings/python PYTHONUNBUFFERED=1 MUJOCO_GL=egl
nvidia-smi -L
nproc
val=""
if timeout 120 python3 -m slotrt.mujoco_scenes --out /tmp/val --split val --clips 24 --frames 24 --workers 12 2>/dev/null; then
  val="--val /tmp/val"
else
  echo "EGL rendering failed; training on carried clips only"
  export MUJOCO_GL=disabled
fi
python3 scripts/train_torch.py --config models/savi-world-64.train.json --out "$out/run" --minutes "$minutes" $val 2>&1 | tee "$out/run/train.out"
