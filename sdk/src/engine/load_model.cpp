#include "allm/engine.hpp"

#include <chrono>

#include "allm/model_loader.hpp"
#include "allm/registry.hpp"

namespace allm {

std::unique_ptr<Model> build_model(const Checkpoint& ckpt, const ModelOptions& options) {
  std::vector<std::string> installed;
  for (const auto& e : Registry::instance().list(ALLM_KIND_ARCHITECTURE)) installed.push_back(e.name);
  require_architecture(ckpt.model_type, installed);
  return Registry::instance().architecture(ckpt.model_type)->create(ckpt, options);
}

LoadedModel load_model(const std::filesystem::path& path, const ModelOptions& options) {
  const auto t0 = std::chrono::steady_clock::now();
  LoadedModel out;
  out.checkpoint = load_checkpoint(path);
  out.model = build_model(out.checkpoint, options);
  out.load_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  return out;
}

}  // namespace allm
