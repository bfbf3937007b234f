#pragma once
// Shared helpers of the engine tests: fixture paths, plugin loading, models.
#include <filesystem>
#include <memory>
#include <string>

#include "allm/architecture.hpp"
#include "allm/model_loader.hpp"
#include "allm/registry.hpp"
#include "../common/arch_plugins.hpp"

namespace allm::test {

inline std::filesystem::path fixture(const std::string& name) {
  return std::filesystem::path(ALLM_TEST_DATA_DIR) / "models" / name;
}

// The fixture's checkpoint, with config.v5.json instead of config.json when `v5`.
inline Checkpoint load_fixture(const std::string& name, bool v5 = false) {
  Checkpoint ckpt = load_checkpoint(fixture(name));
  if (v5) ckpt.config = read_config_file(fixture(name) / "config.v5.json");
  return ckpt;
}

inline std::unique_ptr<Model> make_model(const Checkpoint& ckpt, int threads = 2) {
  load_arch_plugins();
  ArchitectureFactory* f = Registry::instance().architecture(ckpt.model_type);
  if (!f) throw std::runtime_error("no architecture plugin for " + ckpt.model_type);
  ModelOptions opt;
  opt.threads = threads;
  return f->create(ckpt, opt);
}

}  // namespace allm::test
