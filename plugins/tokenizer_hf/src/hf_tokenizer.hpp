#pragma once
// The tokenizer.json pipeline: added tokens -> normalizer -> pre-tokenizer ->
// model -> post-processor on the way in; decoder on the way out.
#include <memory>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "added_vocabulary.hpp"
#include "allm/tokenizer.hpp"
#include "decoder.hpp"
#include "model.hpp"
#include "normalizer.hpp"
#include "post_processor.hpp"
#include "pre_tokenizer.hpp"

namespace allm::hf {

class HfTokenizer : public Tokenizer {
 public:
  // `doc` is the parsed tokenizer.json; `config` the parsed
  // tokenizer_config.json beside it (or null), which names BOS and EOS.
  HfTokenizer(const nlohmann::json& doc, const std::string& origin, const nlohmann::json& config);

  std::vector<TokenId> encode(std::string_view text, bool add_special_tokens) const override;
  std::string decode(const std::vector<TokenId>& ids, bool skip_special_tokens) const override;
  size_t vocab_size() const override;
  std::optional<std::string> id_to_token(TokenId id) const override;
  std::optional<TokenId> token_to_id(std::string_view token) const override;
  bool is_special(TokenId id) const override;
  std::optional<TokenId> bos_id() const override { return bos_; }
  std::optional<TokenId> eos_id() const override { return eos_; }
  bool adds_bos() const override { return adds_bos_; }

 private:
  void encode_plain(std::string_view text, bool at_start, std::vector<TokenId>& ids) const;
  void resolve_bos_eos(const nlohmann::json& config);

  AddedVocabulary added_;
  NormalizerPtr normalizer_;
  PreTokenizerPtr pre_tokenizer_;
  ModelPtr model_;
  PostProcessorPtr post_processor_;
  DecoderPtr decoder_;
  std::optional<TokenId> bos_, eos_;
  bool adds_bos_ = false;
};

}  // namespace allm::hf
