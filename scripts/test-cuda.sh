#!/usr/bin/env bash
# The CUDA backend on a machine with an NVIDIA GPU (compute capability 9.0+):
#   1. the stored-layout restore (no GPU needed),
#   2. every kernel against the CPU reference (tests/cuda/test_cuda_kernels.cpp),
#   3. every fixture checkpoint and GGUF fixture through the CUDA backend
#      against the references, with the CPU backend's bounds, and against the
#      CPU backend while decoding (tests/cuda/test_cuda_logits.cpp),
#   4. the kernels' speed (bench/cuda), unless ALLM_CUDA_BENCH=0.
# Usage: scripts/test-cuda.sh [BUILD_DIR]      (default: build)
# BUILD_DIR holds bin/ and lib/ as a build tree does; binaries built on
# another machine can be copied into such a folder (docs/cuda.md).
# Without a usable device, steps 2-3 report every test as skipped with the
# reason and the script fails, so a run that checked nothing never passes.
set -euo pipefail
cd "$(dirname "$0")/.."
build=$(cd "${1:-build}" && pwd)
export ALLM_TEST_DATA_DIR="$PWD/tests/data"
export ALLM_TEST_PLUGIN_DIR="$build/lib/allm/plugins"
export LD_LIBRARY_PATH="$build/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
for t in cuda_layout_test cuda_kernels_test cuda_logits_test; do
  [ -x "$build/bin/$t" ] || { echo "test-cuda: $build/bin/$t is missing (build it: cmake --build $build --target $t)" >&2; exit 2; }
done
"$build/bin/cuda_layout_test" --gtest_brief=1
for t in cuda_kernels_test cuda_logits_test; do
  log=$(mktemp)
  "$build/bin/$t" --gtest_brief=1 2>&1 | tee "$log"
  if grep -q "SKIPPED" "$log"; then
    echo "test-cuda: $t skipped tests (no usable CUDA device?): nothing was checked on a GPU" >&2
    rm -f "$log"
    exit 1
  fi
  rm -f "$log"
done
if [ "${ALLM_CUDA_BENCH:-1}" = "1" ] && [ -x "$build/bin/cuda_kernel_bench" ]; then
  "$build/bin/cuda_kernel_bench"
fi
