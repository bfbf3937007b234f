#pragma once
// Models shipped with allm (models/allm-tiny): found from the executable's
// location, never the working directory, so a bundled model's name works from
// any folder. Installed: <prefix>/share/allm/models/NAME; build tree:
// <build>/bin/allm -> <source>/models/NAME.
#include <algorithm>
#include <filesystem>
#include <optional>
#include <string>
#include <system_error>
#include <vector>

namespace allm::cli {

// The folder holding the bundled models, if one exists next to the executable.
inline std::optional<std::filesystem::path> bundled_models_dir() {
  std::error_code ec;
  const auto exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (ec) return std::nullopt;
  const auto bin = exe.parent_path();
  for (const auto& candidate : {bin / ".." / "share" / "allm" / "models", bin / ".." / ".." / "models"})
    if (std::filesystem::is_directory(candidate / "allm-tiny", ec)) return candidate.lexically_normal();
  return std::nullopt;
}

// Each bundled model directory (one holding a config.json), sorted by name.
inline std::vector<std::filesystem::path> bundled_models() {
  std::vector<std::filesystem::path> out;
  auto dir = bundled_models_dir();
  if (!dir) return out;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(*dir, ec))
    if (e.is_directory(ec) && std::filesystem::is_regular_file(e.path() / "config.json", ec)) out.push_back(e.path());
  std::sort(out.begin(), out.end());
  return out;
}

// "allm-tiny" or "models/allm-tiny" -> the bundled model's directory; nullopt
// for any other spec (or when a folder of that name exists here: a path the
// user typed wins).
inline std::optional<std::string> bundled_model(const std::string& spec) {
  std::error_code ec;
  if (spec.empty() || std::filesystem::exists(spec, ec)) return std::nullopt;
  std::string name = spec;
  if (name.rfind("models/", 0) == 0) name.erase(0, 7);
  if (name.empty() || name.find('/') != std::string::npos) return std::nullopt;
  for (const auto& m : bundled_models())
    if (m.filename() == name) return m.string();
  return std::nullopt;
}

}  // namespace allm::cli
