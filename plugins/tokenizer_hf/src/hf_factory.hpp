#pragma once
// The "hf" tokenizer factory: loads tokenizer.json from a file, a model
// directory, or memory.
#include <nlohmann/json.hpp>

#include "allm/tokenizer.hpp"

namespace allm::hf {

class HfTokenizerFactory : public TokenizerFactory {
 public:
  bool can_load(const std::filesystem::path& path) const override;
  std::unique_ptr<Tokenizer> load(const std::filesystem::path& path) const override;
  std::unique_ptr<Tokenizer> load_json(const std::string& tokenizer_json, const std::string& origin) const override;
};

// The tokenizer.json that `source` names: the file itself, or the one inside
// a directory. Throws TokenizerError when there is none.
std::filesystem::path resolve_tokenizer_file(const std::filesystem::path& source);

// Parses JSON text; a syntax error becomes TokenizerError naming `origin`,
// line, column and byte offset.
nlohmann::json parse_json_document(const std::string& text, const std::string& origin);

}  // namespace allm::hf
