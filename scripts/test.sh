#!/usr/bin/env bash
# Runs the whole test suite (CTest + GoogleTest) on the build made by setup.sh;
# then every libFuzzer target for a fixed, seeded number of mutations over its
# seed corpus (scripts/fuzz.sh, clang, build-fuzz/); then the whole suite again
# in that same tree, built with clang under AddressSanitizer (leaks included)
# and UndefinedBehaviorSanitizer — every test of the first pass but the CUDA
# backend's, checked below, with time limits x4 (ALLM_TEST_TIMEOUT_SCALE); and
# under ThreadSanitizer (build-tsan/, time limits x4) the engine's thread pool,
# batched forward and KV pool tests, and allm serve driven by the server's
# tests (tests/server: the official clients, curl, the mixed-route concurrency
# test) and the remote providers' tests against it (tests/remote).
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
  # -O1 -g1 rather than RelWithDebInfo's -O2 -g: a report still names each
  # frame's function, file and line (inlined frames included; -g1 keeps the line
  # tables, drops types and locals, which no TSan report prints), and this tree
  # builds in 668 s instead of 900 s on a 2-core CI machine, its tests taking
  # ~25 s longer at -O1. NDEBUG as in RelWithDebInfo: the same code as before.
  cmake -S . -B build-tsan -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O1 -g1 -DNDEBUG" "-DCMAKE_C_FLAGS_RELWITHDEBINFO=-O1 -g1 -DNDEBUG" \
    -DALLM_TSAN=ON -DALLM_BUILD_BENCH=OFF > /dev/null
  # Only what these tests run: the engine's concurrency tests, the CLI with the
  # plugins of the server tests' models, the remote providers' tests.
  cmake --build build-tsan -j"$jobs" --target engine_concurrency_tests server_tests remote_provider_tests
  if [ -d build/test-cache ] && [ ! -e build-tsan/test-cache ]; then ln -s "$PWD/build/test-cache" build-tsan/test-cache; fi
  # Every instrumented process (the test binaries, each allm serve the tests
  # start) writes its reports to a file here: a server's stderr is not always
  # shown, and a race must fail the pass even where the test itself passed.
  reports=build-tsan/tsan-reports
  rm -rf "$reports" && mkdir -p "$reports"
  tsan_status=0
  # Left out: server.tools and server.structured_output, one generation at a
  # time spending minutes in the grammar matcher under TSan (tool and schema
  # requests run among the others in server.concurrency).
  TSAN_OPTIONS="halt_on_error=0 exitcode=66 log_path=$PWD/$reports/tsan" \
    ctest --test-dir build-tsan -R '^(engine_tsan|server|remote)\.' -E '^server\.(tools|structured_output)$' \
      --output-on-failure -j"$jobs" || tsan_status=$?
  if [ -n "$(ls -A "$reports")" ]; then
    echo "test.sh: ThreadSanitizer reported races:" >&2
    cat "$reports"/* >&2
    exit 1
  fi
  [ "$tsan_status" = 0 ] || exit "$tsan_status"
fi
