#pragma once
// The checkpoint_loader component kind: reads one on-disk model format into a
// Checkpoint. Loaders are plugins like every other kind (plugins/loader_gguf,
// plugins/loader_safetensors; docs/plugin-abi.md), registered with
// allm::checkpoint_loader_component; load_checkpoint() (model_loader.hpp) asks
// the registered loaders, highest score first, and the first that accepts a
// path reads it. The readers themselves are the engine's (below), so a loader
// plugin links allm::engine.
#include <filesystem>
#include <optional>
#include <string>

#include "allm/checkpoint.hpp"

namespace allm {

class CheckpointLoader {
 public:
  virtual ~CheckpointLoader() = default;
  // A cheap look (extension, magic bytes, a folder's files): is `path` this
  // loader's format? No exceptions for a path it does not take.
  virtual bool accepts(const std::filesystem::path& path) const = 0;
  // Reads `path`; ModelLoadError / UnsupportedError naming the file on bad input.
  virtual Checkpoint load(const std::filesystem::path& path) const = 0;
  // One line for `allm plugins`: the formats it reads.
  virtual std::string describe() const = 0;
};

// ---- The engine's readers, for the loader plugins -----------------------------
// A Hugging Face checkpoint directory (config.json + safetensors, plain or
// MLX-quantized). With `only_file`, that one .safetensors file supplies the
// weights instead of the directory's set.
Checkpoint load_safetensors_checkpoint(const std::filesystem::path& dir,
                                       const std::optional<std::filesystem::path>& only_file = std::nullopt);
// The kernels for MLX-quantized weights (DType::MLX_AFFINE), which only a
// safetensors checkpoint carries: registered by the loader that reads one.
// Idempotent.
void register_mlx_weight_format();

}  // namespace allm
