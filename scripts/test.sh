#!/usr/bin/env bash
# The whole test suite: Rust (unit, integration, header freshness), the C and
# C++ programs against the shared and static library, and the Python tests.
# Sets up what it needs first (scripts/setup.sh). Ends with one summary line
# "tests: N passed, M failed" and exits non-zero on any failure.
set -uo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
bash scripts/setup.sh || { echo "tests: 0 passed, 1 failed"; exit 1; }
source scripts/env.sh

logs="$root/target/test-logs"
mkdir -p "$logs"
passed=0
failed=0
failed_steps=()

# Runs one step, shows its output, and adds the counts its runner reported.
step() {
  local name="$1"; shift
  echo "==> $name: $*"
  "$@" 2>&1 | tee "$logs/$name.log"
  local rc=${PIPESTATUS[0]}
  local p f
  # cargo: "test result: ok. 12 passed; 0 failed"; ours and pytest: "3 passed, 1 failed"
  p=$(grep -oE '[0-9]+ passed' "$logs/$name.log" | awk '{s+=$1} END {print s+0}')
  f=$(grep -oE '[0-9]+ failed' "$logs/$name.log" | awk '{s+=$1} END {print s+0}')
  passed=$((passed + p)); failed=$((failed + f))
  if [ "$rc" -ne 0 ]; then
    failed_steps+=("$name")
    [ "$f" -eq 0 ] && failed=$((failed + 1))
  fi
}

step cargo-test cargo test --all-targets --no-fail-fast
# The C programs link the libraries cargo built above (cdylib + staticlib).
step c-tests bash scripts/c_tests.sh
# The library cargo just built for the tests, not an older release build.
export SLOTRT_LIBRARY="$root/target/debug/libslotrt.so"
step python-tests python -m pytest -q tests/python

if [ "${#failed_steps[@]}" -gt 0 ]; then
  echo "failed steps: ${failed_steps[*]}"
fi
echo "tests: $passed passed, $failed failed"
[ "${#failed_steps[@]}" -eq 0 ] && [ "$failed" -eq 0 ]
