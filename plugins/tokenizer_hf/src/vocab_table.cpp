#include "vocab_table.hpp"

namespace allm::hf {

void VocabTable::add(std::string token, TokenId id) {
  if (static_cast<size_t>(id) >= to_token_.size()) {
    to_token_.resize(static_cast<size_t>(id) + 1);
    present_.resize(static_cast<size_t>(id) + 1, false);
  }
  to_token_[id] = token;
  present_[id] = true;
  to_id_.insert_or_assign(std::move(token), id);
}

void VocabTable::load(const JsonNode& node) {
  if (!node.is_object()) node.fail("expected an object mapping tokens to ids");
  const auto& obj = node.json();
  to_id_.reserve(obj.size());
  size_t max_id = 0;
  for (auto it = obj.begin(); it != obj.end(); ++it) {
    if (!it.value().is_number_integer() || it.value().get<int64_t>() < 0 || it.value().get<int64_t>() > INT32_MAX)
      node.at(it.key()).fail("expected a non-negative token id");
    max_id = std::max(max_id, static_cast<size_t>(it.value().get<int64_t>()));
  }
  to_token_.resize(obj.empty() ? 0 : max_id + 1);
  present_.assign(to_token_.size(), false);
  for (auto it = obj.begin(); it != obj.end(); ++it) add(it.key(), static_cast<TokenId>(it.value().get<int64_t>()));
}

}  // namespace allm::hf
