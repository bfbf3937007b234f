#pragma once
// A tokenizer.model (SentencePiece) tokenizer with the behaviour of
// transformers' slow, sentencepiece-based LlamaTokenizer (legacy mode, the
// default): added/special tokens are split out of the text first, each text
// segment goes through SentencePiece (BPE or unigram, byte fallback as the
// model was trained), BOS/EOS per add_bos_token/add_eos_token; decoding joins
// SentencePiece's text of each run of pieces with the special tokens' texts
// as that tokenizer's convert_tokens_to_string and _decode do.
#include <filesystem>
#include <memory>
#include <string>
#include <unordered_set>

#include <nlohmann/json.hpp>

#include "allm/tokenizer.hpp"
#include "special_tokens.hpp"

namespace sentencepiece {
class SentencePieceProcessor;
}

namespace allm::spm {

class SpmTokenizer : public Tokenizer {
 public:
  // `config`: tokenizer_config.json (null when there is none).
  SpmTokenizer(const std::filesystem::path& model_file, const nlohmann::json& config);
  ~SpmTokenizer() override;

  std::vector<TokenId> encode(std::string_view text, bool add_special_tokens) const override;
  std::string decode(const std::vector<TokenId>& ids, bool skip_special_tokens) const override;
  size_t vocab_size() const override { return vocab_size_; }
  std::optional<std::string> id_to_token(TokenId id) const override;
  std::optional<TokenId> token_to_id(std::string_view token) const override;
  bool is_special(TokenId id) const override { return specials_.special_ids.count(id) > 0; }
  std::optional<TokenId> bos_id() const override { return specials_.bos; }
  std::optional<TokenId> eos_id() const override { return specials_.eos; }
  bool adds_bos() const override { return specials_.add_bos && specials_.bos.has_value(); }

 private:
  void read_config(const nlohmann::json& config, const std::string& origin);
  // transformers' LlamaTokenizer.convert_tokens_to_string for one run of pieces.

  std::unique_ptr<sentencepiece::SentencePieceProcessor> sp_;
  size_t sp_size_ = 0, vocab_size_ = 0;
  SpecialTokens specials_;
  bool add_prefix_space_ = true;
  bool clean_up_tokenization_spaces_ = false;
};

}  // namespace allm::spm
