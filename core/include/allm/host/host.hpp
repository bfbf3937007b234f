#pragma once
// The host as a library: configuration plus the loaded plugins. The CLI owns
// one; an embedding application makes its own (docs/api.md).
#include <filesystem>
#include <memory>
#include <optional>
#include <vector>

#include "allm/host/config.hpp"
#include "allm/host/plugin_loader.hpp"

namespace allm::host {

struct HostOptions {
  std::vector<std::filesystem::path> plugin_dirs;  // highest priority (--plugin-dir)
  ConfigSources config;
};

class Host {
 public:
  explicit Host(HostOptions options);
  const Config& config() const { return config_; }
  // Discovers and loads plugins on first call.
  const PluginLoader& plugins();
  std::vector<SearchDir> search_dirs() const;

 private:
  HostOptions options_;
  Config config_;
  std::unique_ptr<PluginLoader> loader_;
};

}  // namespace allm::host
