#pragma once
// Shared helpers for the tokenizer tests.
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "allm/tokenizer.hpp"

namespace allm::test {

inline std::filesystem::path data_dir() { return std::filesystem::path(ALLM_TEST_DATA_DIR) / "tokenizer"; }
inline std::filesystem::path cache_dir() { return ALLM_TOKENIZER_CACHE; }

// Builds a tokenizer from an inline tokenizer.json document.
std::unique_ptr<Tokenizer> from_json(const nlohmann::json& doc);
// Loads a real tokenizer fetched by fetch_tokenizers.sh; null when absent.
std::unique_ptr<Tokenizer> load_real(const std::string& name);
bool npm_available();
std::vector<nlohmann::json> read_jsonl(const std::filesystem::path& path);

// A minimal byte-level BPE document over `vocab` with `merges`.
nlohmann::json byte_level_doc(const std::vector<std::string>& extra_vocab, const std::vector<std::string>& merges);

}  // namespace allm::test
