#!/usr/bin/env bash
# The peer benchmark (scripts/bench_peers.py): slotrt through its C API vs
# PyTorch eager vs ONNX Runtime on the same weights and frames, one process.
# Installs what it needs (onnxruntime, onnx) into the project venv and
# builds the release library first.
#   bash scripts/bench_peers.sh [--batches 1,8,32] [--rounds 30] [--model PATH]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
bash scripts/setup.sh
source scripts/env.sh
python -c "import onnxruntime, onnx" 2>/dev/null || python -m pip install -q --disable-pip-version-check onnxruntime onnx
cargo build --release --lib
SLOTRT_LIBRARY="$root/target/release/libslotrt.so" exec python scripts/bench_peers.py "$@"
