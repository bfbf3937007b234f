#pragma once
// Loads the architecture plugins of the build tree (ALLM_TEST_PLUGIN_DIR)
// once per test process. Shared by the engine and GGUF tests.
#include "allm/host/plugin_loader.hpp"
#include "allm/registry.hpp"

namespace allm::test {

inline void load_arch_plugins() {
  static bool loaded = [] {
    static host::PluginLoader loader(Registry::instance());
    loader.load_all({{ALLM_TEST_PLUGIN_DIR, "test"}});
    return true;
  }();
  (void)loaded;
}

}  // namespace allm::test
