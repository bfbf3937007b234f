#pragma once
// The architecture and checkpoint-loader plugins of a folder registered as
// the host registers them, for the CUDA test and bench programs: they run on
// the GPU machine, which lacks the host library's dependencies (spdlog, curl,
// ...), so they cannot use host::PluginLoader. Backends are left out: the
// programs pick theirs by hand.
#include <dlfcn.h>

#include <filesystem>
#include <stdexcept>
#include <string>

#include "allm/plugin.h"
#include "allm/registry.hpp"

namespace allm::cuda {

inline void register_model_plugins(const std::filesystem::path& dir) {
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    const std::string file = e.path().filename().string();
    if (file.rfind("arch_", 0) != 0 && file.rfind("loader_", 0) != 0) continue;
    void* h = dlopen(e.path().c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!h) throw std::runtime_error(std::string("dlopen: ") + dlerror());
    auto entry = reinterpret_cast<allm_plugin_entry_fn>(dlsym(h, ALLM_PLUGIN_ENTRY_SYMBOL));
    if (!entry) throw std::runtime_error(file + ": no entry symbol '" ALLM_PLUGIN_ENTRY_SYMBOL "'");
    const allm_plugin_descriptor* d = entry();
    for (uint32_t i = 0; i < d->component_count; ++i) {
      const allm_component& c = d->components[i];
      Registry::instance().add(
          ComponentEntry{allm_component_kind(c.kind), c.name, c.score, c.impl, d->name, e.path().string()});
    }
  }
}

}  // namespace allm::cuda
