#!/usr/bin/env bash
# Prints libtorch's lib/ directory: $LIBTORCH/lib, else the venv's torch.
set -euo pipefail
if [ -n "${LIBTORCH:-}" ]; then
  echo "$LIBTORCH/lib"
else
  python -c 'import importlib.util, os; print(os.path.join(importlib.util.find_spec("torch").submodule_search_locations[0], "lib"))'
fi
