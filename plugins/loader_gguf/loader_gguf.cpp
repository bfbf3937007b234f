// Reads GGUF files as llama.cpp writes them (docs/gguf.md): a .gguf name or
// the GGUF magic. The block types' kernels are registered before the first
// checkpoint is handed out, since only a GGUF checkpoint carries them.
#include <filesystem>

#include "allm/checkpoint_loader.hpp"
#include "allm/gguf.hpp"
#include "allm/plugin.hpp"

namespace {

namespace fs = std::filesystem;

class GgufLoader final : public allm::CheckpointLoader {
 public:
  bool accepts(const fs::path& path) const override { return allm::gguf::looks_like_gguf(path); }

  allm::Checkpoint load(const fs::path& path) const override {
    allm::gguf::register_weight_formats();
    return allm::gguf::load_checkpoint(path);
  }

  std::string describe() const override { return "GGUF files (llama.cpp's format: .gguf or the GGUF magic)"; }
};

GgufLoader loader;
const allm::Component components[] = {allm::checkpoint_loader_component("gguf", 100, loader)};

}  // namespace

ALLM_DEFINE_PLUGIN("loader-gguf", "1.0.0", "Checkpoint loader: GGUF files (llama.cpp)", components)
