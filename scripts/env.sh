# Source this to build against the project's libtorch:
#   source scripts/env.sh
# With LIBTORCH set (your own libtorch 2.13 install) it is used as is and the
# venv is only needed for the Python tests.
_slotrt_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# Not exported: a nested checkout (e.g. a fresh clone) must use its own venv.
_slotrt_venv="${SLOTRT_VENV:-$_slotrt_root/.venv}"
export PATH="$_slotrt_venv/bin:$PATH"
if [ -z "${LIBTORCH:-}" ]; then
  export LIBTORCH_USE_PYTORCH=1
fi
unset _slotrt_root _slotrt_venv
