#pragma once
// Plugin discovery: scan directories in the documented order, dlopen every
// `*.so`, validate its descriptor and register its components. A bad plugin is
// recorded with a one-line reason and skipped; it never takes the host down.
// Plugins are never unloaded (objects they created may outlive any scope).
#include <filesystem>
#include <string>
#include <vector>

#include "allm/registry.hpp"

namespace allm::host {

struct SearchDir {
  std::filesystem::path path;
  std::string source;  // "--plugin-dir", "ALLM_PLUGIN_PATH", "config plugin_dirs", "user", "install"
};

struct ComponentRecord {
  std::string kind;
  std::string name;
  int score = 0;
  bool active = false;        // false when shadowed by an earlier plugin or score 0
  std::string note;           // why not active
};

struct PluginRecord {
  std::filesystem::path path;
  std::string search_source;  // which SearchDir found it
  bool loaded = false;
  std::string reason;         // why it failed (empty when loaded)
  std::string name, version, description, sdk_version, toolchain;
  unsigned abi_major = 0, abi_minor = 0;
  std::vector<ComponentRecord> components;
};

// The search order: flag dirs > ALLM_PLUGIN_PATH > config plugin_dirs >
// ~/.local/lib/allm/plugins > <exe>/../lib/allm/plugins. Duplicates removed.
std::vector<SearchDir> plugin_search_dirs(const std::vector<std::filesystem::path>& flag_dirs,
                                          const std::vector<std::filesystem::path>& config_dirs);

std::filesystem::path user_plugin_dir();
std::filesystem::path install_plugin_dir();

class PluginLoader {
 public:
  explicit PluginLoader(Registry& registry) : registry_(registry) {}

  // Loads every plugin in every directory, in order. Safe to call once per process.
  void load_all(const std::vector<SearchDir>& dirs);
  // Loads one file (used by load_all and by tests).
  const PluginRecord& load_file(const std::filesystem::path& file, const std::string& source);

  const std::vector<PluginRecord>& plugins() const { return records_; }
  const std::vector<SearchDir>& searched() const { return searched_; }

 private:
  Registry& registry_;
  std::vector<PluginRecord> records_;
  std::vector<SearchDir> searched_;
};

}  // namespace allm::host
