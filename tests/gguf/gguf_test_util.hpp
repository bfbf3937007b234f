#pragma once
// Shared helpers of the GGUF tests: data paths, plugin loading, models.
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "allm/architecture.hpp"
#include "allm/host/plugin_loader.hpp"
#include "allm/registry.hpp"
#include "allm/tensor.hpp"

namespace allm::gguf::test {

inline std::filesystem::path data(const std::string& name) {
  return std::filesystem::path(ALLM_TEST_DATA_DIR) / "gguf" / name;
}

inline void load_arch_plugins() {
  static bool loaded = [] {
    static host::PluginLoader loader(Registry::instance());
    loader.load_all({{ALLM_TEST_PLUGIN_DIR, "test"}});
    return true;
  }();
  (void)loaded;
}

inline std::unique_ptr<Model> make_model(const Checkpoint& ckpt, int threads = 2) {
  load_arch_plugins();
  ArchitectureFactory* f = Registry::instance().architecture(ckpt.model_type);
  if (!f) throw std::runtime_error("no architecture plugin for " + ckpt.model_type);
  ModelOptions opt;
  opt.threads = threads;
  return f->create(ckpt, opt);
}

template <class T>
std::vector<T> values(const Tensor& t) {
  const T* p = static_cast<const T*>(t.data);
  return std::vector<T>(p, p + t.numel());
}

// Every NAME-TYPE.gguf under tests/data/gguf, as "NAME-TYPE".
inline std::vector<std::string> fixture_names() {
  std::vector<std::string> out;
  for (auto& e : std::filesystem::directory_iterator(data("")))
    if (e.path().extension() == ".gguf") out.push_back(e.path().stem().string());
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace allm::gguf::test
