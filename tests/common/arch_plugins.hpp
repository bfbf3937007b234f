#pragma once
// Loads plugins of the build tree (ALLM_TEST_PLUGIN_DIR) into the process's
// registry, each file once: all of them (load_arch_plugins: architectures,
// tokenizers, loaders, ...) or only the checkpoint loaders that
// load_checkpoint() needs (load_loader_plugins). Shared by the engine, GGUF
// and model tests.
#include <algorithm>
#include <filesystem>
#include <set>
#include <string>
#include <vector>

#include "allm/host/plugin_loader.hpp"
#include "allm/registry.hpp"

namespace allm::test {

namespace detail {
template <class Want>
void load_test_plugins(Want want) {
  static host::PluginLoader loader(Registry::instance());
  static std::set<std::filesystem::path> loaded;
  std::vector<std::filesystem::path> files;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(ALLM_TEST_PLUGIN_DIR, ec))
    if (e.path().extension() == ".so") files.push_back(e.path());
  std::sort(files.begin(), files.end());  // as the host: name order
  for (const auto& f : files)
    if (want(f) && loaded.insert(f).second) loader.load_file(f, "test");
}
}  // namespace detail

inline void load_arch_plugins() {
  static bool loaded = (detail::load_test_plugins([](const std::filesystem::path&) { return true; }), true);
  (void)loaded;
}

inline void load_loader_plugins() {
  static bool loaded = (detail::load_test_plugins([](const std::filesystem::path& f) {
                          return f.filename().string().rfind("loader_", 0) == 0;
                        }),
                        true);
  (void)loaded;
}

}  // namespace allm::test
