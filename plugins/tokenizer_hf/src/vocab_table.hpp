#pragma once
// A model's vocabulary in both directions: string -> id (hashed) and
// id -> string (dense by id).
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "json_node.hpp"
#include "string_map.hpp"

namespace allm::hf {

class VocabTable {
 public:
  // `node` is the {"token": id, ...} object.
  void load(const JsonNode& node);
  void add(std::string token, TokenId id);

  std::optional<TokenId> find(std::string_view token) const {
    auto it = to_id_.find(token);
    if (it == to_id_.end()) return std::nullopt;
    return it->second;
  }
  const std::string* token(TokenId id) const {
    if (id < 0 || static_cast<size_t>(id) >= present_.size() || !present_[id]) return nullptr;
    return &to_token_[id];
  }
  size_t size() const { return to_id_.size(); }
  size_t id_bound() const { return to_token_.size(); }

 private:
  TokenMap to_id_;
  std::vector<std::string> to_token_;
  std::vector<bool> present_;
};

}  // namespace allm::hf
