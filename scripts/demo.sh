#!/usr/bin/env bash
# The main demo: set everything up, build the release library, and run the
# C streaming demo (examples/c/stream_demo.c) on the shipped model: four
# simulated cameras batched through one session, per-frame slot summaries,
# and one mask-overlay GIF per stream in out/stream_demo/.
#   bash scripts/demo.sh [FRAMES]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
bash scripts/setup.sh
source scripts/env.sh
cargo build --release --lib --bin slotrt
model=models/savi-small-64.safetensors
./target/release/slotrt info "$model" | sed -n '1,12p'
torch_lib="$(bash scripts/torch_lib_dir.sh)"
cc -O2 -std=c11 -Wall -Wextra -Werror -pedantic -Iinclude examples/c/stream_demo.c -o target/release/stream_demo \
  -Ltarget/release -lslotrt -Wl,-rpath,"$root/target/release" -Wl,-rpath-link,"$torch_lib"
./target/release/stream_demo "$model" out/stream_demo "${1:-24}"
