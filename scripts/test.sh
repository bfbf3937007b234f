#!/usr/bin/env bash
# Runs the whole test suite (CTest + GoogleTest) on the build made by setup.sh,
# then the streaming, cancellation and session tests again under
# AddressSanitizer + UndefinedBehaviorSanitizer (build-asan/), and the engine's
# thread pool, batched forward and KV pool tests under ThreadSanitizer (build-tsan/).
# Between the two, every libFuzzer target runs a fixed, seeded number of
# mutations over its seed corpus (scripts/fuzz.sh, clang, build-fuzz/).
#   ALLM_SKIP_FUZZ=1 / ALLM_SKIP_ASAN=1 / ALLM_SKIP_TSAN=1  leave a pass out (local runs)
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=$(nproc)
ctest --test-dir build --output-on-failure -j"$jobs" "$@"

if [ "${ALLM_SKIP_FUZZ:-0}" != "1" ]; then
  scripts/fuzz.sh
fi

if [ "${ALLM_SKIP_ASAN:-0}" != "1" ]; then
  cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DALLM_ASAN=ON -DALLM_BUILD_BENCH=OFF > /dev/null
  cmake --build build-asan -j"$jobs" --target provider_test local_provider_tests allm-plugins
  ASAN_OPTIONS=detect_leaks=1 ctest --test-dir build-asan -R '^(provider|local)\.' --output-on-failure -j"$jobs"
fi

if [ "${ALLM_SKIP_TSAN:-0}" != "1" ]; then
  cmake -S . -B build-tsan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DALLM_TSAN=ON -DALLM_BUILD_BENCH=OFF > /dev/null
  cmake --build build-tsan -j"$jobs" --target engine_concurrency_tests
  TSAN_OPTIONS=halt_on_error=1 ctest --test-dir build-tsan -R '^engine_tsan\.' --output-on-failure -j"$jobs"
fi
