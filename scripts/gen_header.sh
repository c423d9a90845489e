#!/usr/bin/env bash
# Regenerates include/slotrt.h from src/capi with the pinned cbindgen.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/env.sh
SLOTRT_BLESS=1 cargo test -q --test header
echo "wrote include/slotrt.h"
