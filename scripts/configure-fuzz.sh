#!/usr/bin/env bash
# Configures build-fuzz/: clang, the whole tree instrumented for libFuzzer
# coverage, ASan and UBSan (ALLM_BUILD_FUZZ). scripts/fuzz.sh builds the fuzz
# targets there; scripts/test.sh builds the tests there too and runs the whole
# CTest suite under the sanitizers.
set -euo pipefail
cd "$(dirname "$0")/.."
launcher=()
command -v ccache >/dev/null 2>&1 && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DCMAKE_C_COMPILER_LAUNCHER=ccache)
CC=clang CXX=clang++ cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O1 -g" "-DCMAKE_C_FLAGS_RELWITHDEBINFO=-O1 -g" \
  -DALLM_BUILD_FUZZ=ON -DALLM_BUILD_TESTS=ON -DALLM_BUILD_BENCH=OFF "${launcher[@]}" >/dev/null
