#!/usr/bin/env bash
# Runs the whole test suite (CTest + GoogleTest) on the build made by setup.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
ctest --test-dir build --output-on-failure -j"$(nproc)" "$@"
