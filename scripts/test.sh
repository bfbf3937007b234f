#!/usr/bin/env bash
# Runs the whole test suite (CTest + GoogleTest) on the build made by setup.sh;
# then every libFuzzer target for a fixed, seeded number of mutations over its
# seed corpus (scripts/fuzz.sh, clang, build-fuzz/); then the whole suite again
# in that same tree, built with clang under AddressSanitizer (leaks included)
# and UndefinedBehaviorSanitizer — every test of the first pass but the CUDA
# backend's, checked below, with time limits x4 (ALLM_TEST_TIMEOUT_SCALE); and
# the engine's thread pool, batched forward and KV pool tests under
# ThreadSanitizer (build-tsan/).
#   ALLM_SKIP_FUZZ=1 / ALLM_SKIP_ASAN=1 / ALLM_SKIP_TSAN=1  leave a pass out (local runs)
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=$(nproc)
ctest --test-dir build --output-on-failure -j"$jobs" "$@"

if [ "${ALLM_SKIP_FUZZ:-0}" != "1" ]; then
  scripts/fuzz.sh
fi

if [ "${ALLM_SKIP_ASAN:-0}" != "1" ]; then
  # The fuzz tree already holds the instrumented libraries: only the tests,
  # the CLI and the plugins are left to build.
  scripts/configure-fuzz.sh
  cmake --build build-fuzz -j"$jobs"
  # npm packages the first pass fetched (API clients, playwright, ajv) are reused.
  if [ -d build/test-cache ] && [ ! -e build-fuzz/test-cache ]; then ln -s "$PWD/build/test-cache" build-fuzz/test-cache; fi
  # Nothing of the first pass is left out here but the CUDA backend's tests
  # (nvcc's code is not instrumented: backend_cuda is not built under the sanitizers).
  test_names() { ctest --test-dir "$1" -N | sed -n 's/^ *Test *#[0-9]*: //p' | sed 's/  # GetParam.*//' | sort -u; }
  missing=$(comm -23 <(test_names build) <(test_names build-fuzz) | grep -v '^cuda[._]' || true)
  if [ -n "$missing" ]; then
    echo "test.sh: the sanitizer pass lacks these tests of the first pass:" >&2
    echo "$missing" >&2
    exit 1
  fi
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    ctest --test-dir build-fuzz --output-on-failure -j"$jobs"
fi

if [ "${ALLM_SKIP_TSAN:-0}" != "1" ]; then
  cmake -S . -B build-tsan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DALLM_TSAN=ON -DALLM_BUILD_BENCH=OFF > /dev/null
  cmake --build build-tsan -j"$jobs" --target engine_concurrency_tests
  TSAN_OPTIONS=halt_on_error=1 ctest --test-dir build-tsan -R '^engine_tsan\.' --output-on-failure -j"$jobs"
fi
