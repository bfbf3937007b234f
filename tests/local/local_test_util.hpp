#pragma once
// Shared by the local provider tests: plugins from the build tree, fixture
// paths, a provider on a fixture checkpoint.
#include <filesystem>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "allm/host/plugin_loader.hpp"
#include "allm/registry.hpp"
#include "local_provider.hpp"

namespace allm::local::test {

inline void load_plugins() {
  static bool loaded = [] {
    static host::PluginLoader loader(Registry::instance());
    loader.load_all({{ALLM_TEST_PLUGIN_DIR, "test"}});
    return true;
  }();
  (void)loaded;
}

inline std::string fixture(const std::string& name) { return std::string(ALLM_TEST_DATA_DIR) + "/models/" + name; }
inline std::string shipped_model() { return std::string(ALLM_SOURCE_DIR) + "/models/allm-tiny"; }

inline std::shared_ptr<LocalProvider> make_provider(const std::string& model, nlohmann::json options = nlohmann::json::object()) {
  load_plugins();
  options["model"] = model;
  if (!options.contains("threads")) options["threads"] = 2;
  return std::make_shared<LocalProvider>(options);
}

// A greedy request that runs exactly `n` tokens (EOS ignored).
inline GenerateRequest greedy(const std::string& prompt, int n) {
  GenerateRequest r;
  r.prompt = prompt;
  r.params.temperature = 0;
  r.params.repetition_penalty = 1.0;
  r.params.max_tokens = n;
  r.params.ignore_eos = true;
  return r;
}

}  // namespace allm::local::test
