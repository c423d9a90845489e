#!/usr/bin/env bash
# Builds the C tests (-std=c11 -Wall -Wextra -Werror -pedantic) against
# include/slotrt.h and links it three times: with the shared library, with
# the static library, and with the shared library under ASan + UBSan +
# LSan; builds the header as C++17 and the C example too; runs all of them.
# Builds target/debug/libslotrt.{so,a} first unless SLOTRT_PROFILE_DIR names
# a directory with prebuilt ones.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
source scripts/env.sh
profile_dir="${SLOTRT_PROFILE_DIR:-$root/target/debug}"
out="$root/target/c-tests"
mkdir -p "$out"
torch_lib="$(bash scripts/torch_lib_dir.sh)"
# Cheap when fresh; cargo test alone does not refresh the cdylib/staticlib.
[ -n "${SLOTRT_PROFILE_DIR:-}" ] || cargo build --lib

cflags=(-std=c11 -Wall -Wextra -Werror -pedantic -I"$root/include")
cxxflags=(-std=c++17 -Wall -Wextra -Werror -pedantic -I"$root/include")
shared_link=(-L"$profile_dir" -lslotrt -Wl,-rpath,"$profile_dir" -Wl,-rpath-link,"$torch_lib")
# A static libslotrt still needs libtorch (shared) and the C++ runtime.
cuda_link=()
[ -f "$torch_lib/libtorch_cuda.so" ] && cuda_link=(-Wl,--no-as-needed -ltorch_cuda -Wl,--as-needed)
static_link=("$profile_dir/libslotrt.a" -L"$torch_lib" -Wl,-rpath,"$torch_lib"
  "${cuda_link[@]}" -ltorch -ltorch_cpu -lc10 -lgomp -lstdc++ -lgcc_s -lutil -lrt -lpthread -lm -ldl)

cc "${cflags[@]}" tests/c/test_capi.c -o "$out/test_capi_shared" "${shared_link[@]}" -lm
cc "${cflags[@]}" tests/c/test_capi.c -o "$out/test_capi_static" "${static_link[@]}"
c++ "${cxxflags[@]}" tests/c/test_header.cpp -o "$out/test_header_cpp" "${shared_link[@]}"
# The same test under AddressSanitizer, UndefinedBehaviorSanitizer and
# LeakSanitizer: misuse must not read or write out of bounds or leak.
cc "${cflags[@]}" -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer -g \
  tests/c/test_capi.c -o "$out/test_capi_sanitized" "${shared_link[@]}" -lm
cc "${cflags[@]}" tests/c/test_runtime.c -o "$out/test_runtime_shared" "${shared_link[@]}" -lm
cc "${cflags[@]}" tests/c/test_runtime.c -o "$out/test_runtime_static" "${static_link[@]}"
cc "${cflags[@]}" -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer -g \
  tests/c/test_runtime.c -o "$out/test_runtime_sanitized" "${shared_link[@]}" -lm
# Examples must compile warning-free too, and run.
cc "${cflags[@]}" examples/c/synth_and_score.c -o "$out/example_synth_and_score" "${shared_link[@]}"
cc "${cflags[@]}" examples/c/stream_demo.c -o "$out/example_stream_demo" "${shared_link[@]}"
c++ "${cxxflags[@]}" -I"$root/bindings/cpp" examples/cpp/vector_env.cpp -o "$out/example_vector_env" "${shared_link[@]}"

# Each program run is one test case (its CHECKs are counted inside it and
# printed as "checks", which scripts/test.sh does not add up).
status=0 cases_ok=0 cases_failed=0
model="$root/models/savi-small-64.safetensors"
run_case() {
  echo "--- $1"
  if "${@:2}"; then cases_ok=$((cases_ok + 1)); else cases_failed=$((cases_failed + 1)); status=1; fi
}
for t in test_capi_shared test_capi_static test_capi_sanitized test_header_cpp example_synth_and_score \
  test_runtime_shared test_runtime_static test_runtime_sanitized; do
  run_case "$t" env ASAN_OPTIONS=detect_leaks=1 "$out/$t" "$model"
done
run_case example_stream_demo bash -c "set -o pipefail; '$out/example_stream_demo' '$model' '$out/stream_demo' 6 | tail -3"
run_case example_vector_env bash -c "set -o pipefail; '$out/example_vector_env' '$model' 8 | tail -3"
echo "c tests: $cases_ok passed, $cases_failed failed"
exit $status
