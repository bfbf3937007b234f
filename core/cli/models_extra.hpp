#pragma once
// The parts of `allm models` beyond the HF cache listing: other tools' stores
// (Ollama, LM Studio), the catalog search, and removing cached repos.
#include <cstdint>
#include <filesystem>
#include <optional>
#include <ostream>
#include <string>

#include <nlohmann/json.hpp>

namespace allm::cli {

// Format and quantization of a checkpoint folder or file: ("gguf", "Q4_K_M"),
// ("mlx", "4-bit"), ("safetensors", "bfloat16").
std::pair<std::string, std::string> describe_checkpoint(const std::filesystem::path& path);

// {"ollama": {"path", "models": [...]}, "lmstudio": {...}} and the same as text.
nlohmann::json stored_models_json();
void print_stored_models(std::ostream& out);

// allm models search TEXT [--fits] [--context N] [--memory BYTES]
int search_catalog(const std::string& text, bool fits_only, int64_t context, std::optional<uint64_t> memory,
                   bool as_json);

// allm models rm REPO[@REVISION] [--dry-run]: a repo, or one revision with the
// blobs no other revision links to (huggingface_hub's delete strategy).
int remove_cached(const std::string& spec, bool dry_run, bool as_json);

}  // namespace allm::cli
