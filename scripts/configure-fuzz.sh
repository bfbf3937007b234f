#!/usr/bin/env bash
# Configures build-fuzz/: clang, the whole tree instrumented for ASan and UBSan,
# all of it but the tests for libFuzzer coverage too (ALLM_BUILD_FUZZ).
# scripts/fuzz.sh builds the fuzz targets there; scripts/test.sh builds the
# tests there too and runs the whole CTest suite under the sanitizers.
set -euo pipefail
cd "$(dirname "$0")/.."
launcher=()
command -v ccache >/dev/null 2>&1 && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DCMAKE_C_COMPILER_LAUNCHER=ccache)
# -gline-tables-only rather than -g: the sanitizers' and libFuzzer's reports
# print function, file:line:column and inlined frames from the line tables
# alone (the full debug info, types and locals, only serves a debugger), and
# sources compile faster (the 10 heaviest: ~20-27% less CPU).
# (For a debugger, configure a tree of your own with -g.)
# Ninja where it is installed (scripts/setup.sh installs it) and the tree is new:
# it starts a target's sources before the libraries it links are linked, and
# has none of make's per-target overhead.
generator=()
[ ! -f build-fuzz/CMakeCache.txt ] && command -v ninja >/dev/null 2>&1 && generator=(-G Ninja)
# ALLM_TEST_BATCHES: the GoogleTest cases run one process per test executable
# (or shard) rather than one per case (tests/CMakeLists.txt, allm_gtest_tests).
# lld links the (large, instrumented) executables and plugins of this tree in
# about half the time of ld.bfd; the main build (setup.sh) keeps the default
# linker, so bfd's stricter archive order is still checked there.
linker=()
command -v ld.lld >/dev/null 2>&1 && linker=(-DCMAKE_EXE_LINKER_FLAGS=-fuse-ld=lld
  -DCMAKE_SHARED_LINKER_FLAGS=-fuse-ld=lld -DCMAKE_MODULE_LINKER_FLAGS=-fuse-ld=lld)
CC=clang CXX=clang++ cmake -S . -B build-fuzz "${generator[@]}" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O1 -gline-tables-only" "-DCMAKE_C_FLAGS_RELWITHDEBINFO=-O1 -gline-tables-only" \
  -DALLM_BUILD_FUZZ=ON -DALLM_BUILD_TESTS=ON -DALLM_BUILD_BENCH=OFF -DALLM_PCH=ON -DALLM_UNITY=ON -DALLM_TEST_BATCHES=ON "${linker[@]}" "${launcher[@]}" >/dev/null
