// Reads Hugging Face checkpoints: a directory with config.json and
// safetensors weights (plain, or MLX-quantized), or one .safetensors file
// whose directory supplies config.json (docs/models.md).
#include <filesystem>
#include <mutex>

#include "allm/checkpoint_loader.hpp"
#include "allm/plugin.hpp"

namespace {

namespace fs = std::filesystem;

class SafetensorsLoader final : public allm::CheckpointLoader {
 public:
  bool accepts(const fs::path& path) const override {
    std::error_code ec;
    if (fs::is_directory(path, ec)) return true;
    return path.extension() == ".safetensors" && fs::is_regular_file(path, ec);
  }

  allm::Checkpoint load(const fs::path& path) const override {
    // MLX-quantized weights need their kernels before any model multiplies by them.
    allm::register_mlx_weight_format();
    std::error_code ec;
    if (fs::is_directory(path, ec)) return allm::load_safetensors_checkpoint(path);
    return allm::load_safetensors_checkpoint(path.has_parent_path() ? path.parent_path() : fs::path("."), path);
  }

  std::string describe() const override {
    return "Hugging Face checkpoints: config.json + .safetensors (plain or MLX-quantized)";
  }
};

SafetensorsLoader loader;
const allm::Component components[] = {allm::checkpoint_loader_component("safetensors", 50, loader)};

}  // namespace

ALLM_DEFINE_PLUGIN("loader-safetensors", "1.0.0", "Checkpoint loader: Hugging Face safetensors directories and MLX",
                   components)
