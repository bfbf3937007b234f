#pragma once
// The special and added tokens of a SentencePiece checkpoint, as transformers'
// slow (sentencepiece-based) Llama tokenizer sees them: the model's control
// and unknown pieces, tokenizer_config.json's added_tokens_decoder entries
// (with their lstrip/rstrip) and its bos/eos/unk/pad/additional special
// tokens. Added tokens are split out of the text before SentencePiece runs.
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include <nlohmann/json.hpp>

#include "allm/tokenizer.hpp"

namespace allm::spm {

struct AddedToken {
  std::string text;
  TokenId id = 0;
  bool lstrip = false, rstrip = false;
};

struct SpecialTokens {
  std::vector<AddedToken> added;                       // split out of text, any order
  std::unordered_map<std::string, TokenId> added_ids;  // text -> id
  std::unordered_map<TokenId, std::string> added_texts;
  // transformers' all_special_tokens: bos, eos, unk, pad and the additional ones.
  std::unordered_set<TokenId> special_ids;
  std::optional<TokenId> bos, eos;
  bool add_bos = true, add_eos = false;
};

// One piece of the text to encode: an added token, or text for SentencePiece.
struct Segment {
  std::string_view text;
  std::optional<TokenId> added;
};

// Splits `text` at added tokens (longest match first; lstrip/rstrip trim the
// whitespace beside them, as transformers does). Empty text segments are dropped.
std::vector<Segment> split_added(std::string_view text, const SpecialTokens& specials);

}  // namespace allm::spm
