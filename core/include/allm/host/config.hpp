#pragma once
// Layered configuration: built-in defaults (config/allm.json, compiled in)
// < system config < user config < ALLM_* environment < command-line flags.
// Each key remembers the layer it came from (`allm config show`).
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace allm::host {

struct ConfigSources {
  std::optional<std::filesystem::path> system_file;  // default /etc/allm/config.json
  std::optional<std::filesystem::path> user_file;    // default $XDG_CONFIG_HOME/allm/config.json
  bool read_environment = true;
  nlohmann::json flags = nlohmann::json::object();   // dotted keys -> values, from the CLI
};

class Config {
 public:
  // Resolves the default locations (ALLM_SYSTEM_CONFIG / ALLM_CONFIG env may
  // point elsewhere) and merges every layer. Throws ConfigError naming the
  // file, line and key on a malformed file or a value of the wrong type.
  static Config load(const ConfigSources& sources);

  const nlohmann::json& merged() const { return merged_; }
  // Dotted key, e.g. "generation.temperature".
  const nlohmann::json& at(const std::string& dotted_key) const;
  std::string origin(const std::string& dotted_key) const;  // "default", "system (/etc/..)", ...
  std::vector<std::string> keys() const;                    // every leaf key, sorted

  std::vector<std::filesystem::path> config_files_read() const { return files_read_; }

 private:
  nlohmann::json merged_;
  std::map<std::string, std::string> origin_;
  std::vector<std::filesystem::path> files_read_;
};

// The built-in layer (config/allm.json as compiled in).
const nlohmann::json& builtin_config();

}  // namespace allm::host
