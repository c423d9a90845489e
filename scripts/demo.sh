#!/usr/bin/env bash
# The main job. For now: set everything up, build, and write a sample
# synthetic clip (frames, colour-coded masks, raw ids, an animated GIF).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
bash scripts/setup.sh
source scripts/env.sh
cargo build --release --bin slotrt
./target/release/slotrt info
./target/release/slotrt synth --out out/demo --clips 1 --split test --frames 16 "$@"
