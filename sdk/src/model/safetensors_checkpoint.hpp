#pragma once
#include <filesystem>
#include <optional>
#include <vector>

#include <nlohmann/json.hpp>

#include "allm/checkpoint.hpp"

namespace allm::detail {

// The weight files of a directory: the index's shards (weight_map filled
// when given), else model.safetensors, else model-NNNNN-of-NNNNN.safetensors.
// Throws ModelLoadError listing what was looked for when none exist.
std::vector<std::filesystem::path> weight_files(const std::filesystem::path& dir, nlohmann::json* weight_map = nullptr);

}  // namespace allm::detail
