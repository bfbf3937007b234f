#pragma once
// Added tokens (`added_tokens` in tokenizer.json): matched in the input before
// anything else and mapped straight to their ids. Tokens with
// `normalized: false` are found in the raw text, the others in the normalized
// text. Matching is leftmost-longest; `single_word`, `lstrip` and `rstrip`
// refine a match as HF tokenizers does.
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "allm/tokenizer.hpp"
#include "json_node.hpp"
#include "string_map.hpp"

namespace allm::hf {

class Normalizer;

struct AddedToken {
  std::string content;
  TokenId id = 0;
  bool special = false, lstrip = false, rstrip = false, single_word = false, normalized = false;
};

// A piece of a segment: either an added token's id or a range of plain text.
struct Segment {
  size_t start, end;
  std::optional<TokenId> token;
};

class AddedVocabulary {
 public:
  void load(const JsonNode& list, const Normalizer* normalizer);

  // Cuts `text` around the raw (normalized=false) or normalized tokens.
  void split_raw(std::string_view text, std::vector<Segment>& out) const { raw_.split(text, tokens_, out); }
  void split_normalized(std::string_view text, std::vector<Segment>& out) const {
    normalized_.split(text, tokens_, out);
  }
  bool has_normalized() const { return !normalized_.empty(); }

  const AddedToken* by_id(TokenId id) const {
    auto it = by_id_.find(id);
    return it == by_id_.end() ? nullptr : &tokens_[it->second];
  }
  std::optional<TokenId> by_content(std::string_view content) const {
    auto it = by_content_.find(content);
    if (it == by_content_.end()) return std::nullopt;
    return tokens_[it->second].id;
  }
  const std::vector<AddedToken>& tokens() const { return tokens_; }

 private:
  // A byte trie over token spellings.
  class Matcher {
   public:
    void add(std::string_view spelling, size_t token_index);
    bool empty() const { return nodes_.size() <= 1; }
    void split(std::string_view text, const std::vector<AddedToken>& tokens, std::vector<Segment>& out) const;

   private:
    struct Node {
      std::vector<std::pair<unsigned char, int32_t>> children;  // sorted by byte
      int32_t token = -1;
    };
    int32_t child(int32_t node, unsigned char b) const;
    // Longest spelling starting at `pos`: token index and length.
    bool longest_at(std::string_view text, size_t pos, size_t& token, size_t& length) const;

    std::vector<Node> nodes_{Node{}};
    bool first_byte_[256] = {};
  };

  std::vector<AddedToken> tokens_;
  std::unordered_map<TokenId, size_t> by_id_;
  std::unordered_map<std::string, size_t, StringHash, std::equal_to<>> by_content_;
  Matcher raw_, normalized_;
};

}  // namespace allm::hf
