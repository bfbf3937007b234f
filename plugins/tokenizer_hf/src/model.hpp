#pragma once
// The model turns one pre-tokenized piece into token ids (BPE, WordPiece).
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "allm/tokenizer.hpp"
#include "json_node.hpp"

namespace allm::hf {

class Model {
 public:
  virtual ~Model() = default;
  virtual void tokenize(std::string_view piece, std::vector<TokenId>& out) const = 0;
  virtual std::optional<TokenId> token_to_id(std::string_view token) const = 0;
  virtual const std::string* id_to_token(TokenId id) const = 0;
  // One past the largest id.
  virtual size_t id_bound() const = 0;
};

using ModelPtr = std::unique_ptr<Model>;

ModelPtr make_model(const JsonNode& node);
ModelPtr make_bpe_model(const JsonNode& node);
ModelPtr make_wordpiece_model(const JsonNode& node);

}  // namespace allm::hf
