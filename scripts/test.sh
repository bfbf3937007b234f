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
#
# Each pass's tree is built while the pass before it runs its tests, at the
# lowest CPU priority (nice 19): CTest leaves the cores idle a good part of the
# time (tests waiting on processes, sockets, npm; a last long test alone), and
# the build takes that time. The tests still run slower beside it (caches and
# memory shared: in a fresh-clone run on 2 cores the first pass took 215 s
# instead of 162 s, while ~40 of build-fuzz/'s sources got built). build-fuzz/'s
# fuzz targets build during the first pass, its tests while the fuzzers run,
# build-tsan/ during the sanitizer pass. Each build's output is printed in full
# (warnings included) when the pass that needs it starts; a failed build fails
# the script there.
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=$(nproc)
fuzz=$([ "${ALLM_SKIP_FUZZ:-0}" != "1" ] && echo 1 || echo 0)
asan=$([ "${ALLM_SKIP_ASAN:-0}" != "1" ] && echo 1 || echo 0)
tsan=$([ "${ALLM_SKIP_TSAN:-0}" != "1" ] && echo 1 || echo 0)
logs=$(mktemp -d)
# On the way out (a failed pass), a build still running in the background is
# stopped with its compilers (each runs in a process group of its own).
cleanup() {
  for pid in "$logs"/*.pid; do
    [ -e "$pid" ] && [ ! -e "${pid%.pid}.rc" ] && kill -- "-$(cat "$pid")" 2>/dev/null
  done
  rm -rf "$logs"
}
trap cleanup EXIT

# background NAME CMD...: runs CMD at nice 19, its output kept in $logs/NAME.log.
# Its own session, so that cleanup can stop all of it; where the kernel groups
# each session for the scheduler (autogroup, /proc/sys/kernel/sched_autogroup_enabled),
# that group gets nice 19 too: without it, nice counts only inside the group,
# and the build took half the CPU from the tests (first pass 162 s -> 287 s).
background() {
  local name=$1; shift
  setsid -w bash -c '{ echo 19 > /proc/self/autogroup; } 2>/dev/null; exec nice -n 19 "$@"' _ "$@" > "$logs/$name.log" 2>&1 &
  echo $! > "$logs/$name.pid"
}
# finish NAME: waits for it, prints its output, fails the script if it failed.
finish() {
  local name=$1 rc=0
  wait "$(cat "$logs/$name.pid")" || rc=$?
  echo "$rc" > "$logs/$name.rc"
  echo "== $name (built in the background)"
  cat "$logs/$name.log"
  [ "$rc" = 0 ] || { echo "test.sh: the build of $name failed (exit $rc)" >&2; exit "$rc"; }
}

configure_tsan() {
  # -O1 -g1 rather than RelWithDebInfo's -O2 -g: a report still names each
  # frame's function, file and line (inlined frames included; -g1 keeps the line
  # tables, drops types and locals, which no TSan report prints), and this tree
  # builds in 668 s instead of 900 s on a 2-core CI machine, its tests taking
  # ~25 s longer at -O1. NDEBUG as in RelWithDebInfo: the same code as before.
  # clang (the same ThreadSanitizer runtime, compiler-rt's) with build-fuzz/'s
  # PCH, unity batches and lld: the build's CPU time ~1,360 -> ~500 s. A tree
  # configured before with gcc is started again.
  if [ -f build-tsan/CMakeCache.txt ] && ! grep -q '^CMAKE_CXX_COMPILER:[A-Z]*=.*clang' build-tsan/CMakeCache.txt; then
    rm -rf build-tsan
  fi
  local generator=() linker=()
  [ ! -f build-tsan/CMakeCache.txt ] && command -v ninja >/dev/null 2>&1 && generator=(-G Ninja)
  command -v ld.lld >/dev/null 2>&1 && linker=(-DCMAKE_EXE_LINKER_FLAGS=-fuse-ld=lld
    -DCMAKE_SHARED_LINKER_FLAGS=-fuse-ld=lld -DCMAKE_MODULE_LINKER_FLAGS=-fuse-ld=lld)
  CC=clang CXX=clang++ cmake -S . -B build-tsan "${generator[@]}" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O1 -g1 -DNDEBUG" "-DCMAKE_C_FLAGS_RELWITHDEBINFO=-O1 -g1 -DNDEBUG" \
    -DALLM_TSAN=ON -DALLM_BUILD_BENCH=OFF -DALLM_PCH=ON -DALLM_UNITY=ON "${linker[@]}" > /dev/null
}
# The TSan tree configured and built in the background: only what its tests
# run (the engine's concurrency tests, the CLI with the plugins of the server
# tests' models, the remote providers' tests).
start_tsan_build() {
  configure_tsan
  background build-tsan cmake --build build-tsan -j"$jobs" --target engine_concurrency_tests server_tests remote_provider_tests
}

if [ "$fuzz" = 1 ] || [ "$asan" = 1 ]; then
  scripts/configure-fuzz.sh
  if [ "$fuzz" = 1 ]; then
    background fuzz-targets cmake --build build-fuzz -j"$jobs" --target allm-fuzz
  else
    background build-fuzz cmake --build build-fuzz -j"$jobs"
  fi
elif [ "$tsan" = 1 ]; then
  start_tsan_build
fi

ctest --test-dir build --output-on-failure -j"$jobs" "$@"

if [ "$fuzz" = 1 ]; then
  finish fuzz-targets
  # The tests (and the CLI and plugins they run) build while the fuzzers run.
  if [ "$asan" = 1 ]; then background build-fuzz cmake --build build-fuzz -j"$jobs"; fi
  ALLM_FUZZ_BUILT=1 scripts/fuzz.sh
fi

if [ "$asan" = 1 ]; then
  finish build-fuzz
  if [ "$tsan" = 1 ]; then
    start_tsan_build
  fi
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
  # The GoogleTest cases run in batches, one process per executable or shard
  # (allm_gtest_tests, tests/CMakeLists.txt): each case is still listed, with
  # the label allm_gtest_case, and each batch writes what it ran to
  # gtest-batches/; every listed case must be there.
  rm -rf build-fuzz/gtest-batches
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    ctest --test-dir build-fuzz --output-on-failure -j"$jobs" -LE '^allm_gtest_case$'
  if ! not_run=$(scripts/check-gtest-batches.py build-fuzz); then
    echo "test.sh: these cases of the sanitizer pass ran in no batch:" >&2
    echo "$not_run" >&2
    exit 1
  fi
elif [ "$fuzz" = 1 ] && [ "$tsan" = 1 ]; then
  start_tsan_build
fi

if [ "$tsan" = 1 ]; then
  finish build-tsan
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
