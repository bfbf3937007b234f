#pragma once
// Reads a plugin's identity from its ".allm_plugin" ELF section without
// loading it (no constructors, no entry point run).
#include <filesystem>
#include <map>
#include <string>

namespace allm::host {

// key -> value (name, version, description, sdk_version, toolchain, abi).
// Throws PluginLoadError naming the file when it is not an ELF shared object
// or has no allm metadata section.
std::map<std::string, std::string> read_plugin_metadata(const std::filesystem::path& file);

}  // namespace allm::host
