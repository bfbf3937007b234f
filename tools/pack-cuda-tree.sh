#!/usr/bin/env bash
# Packs what scripts/test-cuda.sh and cuda_model_bench need from a build tree
# (the CUDA tests and benches, the engine and SDK libraries with the spdlog /
# fmt they link, the architecture and loader plugins) into a tar.xz that runs
# on a GPU machine with only the NVIDIA driver installed (docs/cuda.md).
# Usage: tools/pack-cuda-tree.sh BUILD_DIR OUT.tar.xz
set -euo pipefail
build=$(cd "$1" && pwd); out=$(realpath -m "$2")
stage=$(mktemp -d); trap 'rm -rf "$stage"' EXIT
t=$stage/tree; mkdir -p "$t/bin" "$t/lib/allm/plugins"
for b in cuda_layout_test cuda_kernels_test cuda_logits_test cuda_kernel_bench cuda_model_bench allm-make-random-gguf; do
  [ -x "$build/bin/$b" ] || { echo "pack-cuda-tree: $build/bin/$b is missing" >&2; exit 2; }
  cp "$build/bin/$b" "$t/bin/"
done
for p in "$build"/lib/allm/plugins/*.so; do
  # Architectures, loaders and tokenizers: what the tests and benches load.
  case $(basename "$p") in backend_* | provider_* | media_*) ;; *) cp "$p" "$t/lib/allm/plugins/" ;; esac
done
# The shared libraries the binaries and plugins link (the build's own at the
# sonames they name, not older builds' left beside them; spdlog / fmt), not
# libc / libstdc++ / libm / libgcc.
LD_LIBRARY_PATH="$build/lib" ldd "$t"/bin/* "$t"/lib/allm/plugins/*.so | awk '/=> \// {print $1, $3}' | sort -u |
  grep -E '^lib(allm-[a-z]+|spdlog|fmt)\.' | while read -r soname path; do cp -L "$path" "$t/lib/$soname"; done
strip --strip-unneeded "$t"/bin/* "$t"/lib/*.so* "$t"/lib/allm/plugins/*.so
tar -C "$stage" -cJf "$out" tree
ls -la "$out"
