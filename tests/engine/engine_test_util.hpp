#pragma once
// Shared helpers of the engine tests: fixture paths, plugin loading, models.
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

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

// `count` token ids spread over [0, vocab): `seed` gives each sequence its own.
inline std::vector<int32_t> synthetic_tokens(int64_t count, int seed, int64_t vocab) {
  std::vector<int32_t> ids;
  for (int64_t i = 0; i < count; ++i) ids.push_back(static_cast<int32_t>((i * 31 + seed * 17 + 3) % vocab));
  return ids;
}

}  // namespace allm::test
