#pragma once
// The "sentencepiece" tokenizer factory: a tokenizer.model file, or a model
// directory holding one (with tokenizer_config.json beside it when present).
#include "allm/tokenizer.hpp"

namespace allm::spm {

class SpmTokenizerFactory : public TokenizerFactory {
 public:
  bool can_load(const std::filesystem::path& path) const override;
  std::unique_ptr<Tokenizer> load(const std::filesystem::path& path) const override;
  // tokenizer.json documents are the "hf" tokenizer's: UnsupportedError.
  std::unique_ptr<Tokenizer> load_json(const std::string& tokenizer_json, const std::string& origin) const override;
};

}  // namespace allm::spm
