#pragma once
// Reads tokenizer.json. The two huge members, /model/vocab and /model/merges
// (hundreds of thousands of entries), are captured straight into flat vectors
// by a SAX handler instead of becoming a JSON tree: that tree is most of the
// cost of a plain parse. Everything else becomes an ordinary nlohmann::json,
// with empty placeholders where the captured members were.
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "allm/tokenizer.hpp"

namespace allm::hf {

struct TokenizerJson {
  nlohmann::json doc;
  std::optional<std::vector<std::pair<std::string, TokenId>>> vocab;          // /model/vocab
  std::optional<std::vector<std::pair<std::string, std::string>>> merges;     // /model/merges
};

// Throws TokenizerError naming `origin` with line, column and byte offset for
// malformed JSON, and the JSON path for malformed vocab or merges entries.
TokenizerJson read_tokenizer_json(const std::string& text, const std::string& origin);

}  // namespace allm::hf
