#pragma once
// A view of one value inside tokenizer.json that knows where it sits (file and
// JSON pointer path), so every configuration error can name its place:
//   tokenizer.json: /pre_tokenizer/pretokenizers/1/type: unknown pre-tokenizer type 'Foo'
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "allm/error.hpp"

namespace allm::hf {

class JsonNode {
 public:
  JsonNode(const nlohmann::json& value, const std::string& origin, std::string path)
      : value_(&value), origin_(&origin), path_(std::move(path)) {}

  const nlohmann::json& json() const { return *value_; }
  const std::string& path() const { return path_; }
  const std::string& origin() const { return *origin_; }
  bool is_null() const { return value_->is_null(); }
  bool is_object() const { return value_->is_object(); }
  bool is_array() const { return value_->is_array(); }
  bool is_string() const { return value_->is_string(); }

  bool has(std::string_view key) const;
  // Member `key`; throws when missing. `get` returns nullopt for missing or null.
  JsonNode at(std::string_view key) const;
  std::optional<JsonNode> get(std::string_view key) const;
  JsonNode at(size_t index) const;
  size_t size() const;

  // Typed reads of this value.
  std::string as_string() const;
  bool as_bool() const;
  int64_t as_int() const;
  double as_number() const;

  // Typed member reads with a default for missing or null members.
  std::string string_or(std::string_view key, std::string fallback) const;
  bool bool_or(std::string_view key, bool fallback) const;
  int64_t int_or(std::string_view key, int64_t fallback) const;
  std::optional<std::string> optional_string(std::string_view key) const;

  // The `type` tag of a component object.
  std::string type() const { return at("type").as_string(); }

  // TokenizerError "<origin>: <path>: <message>".
  [[noreturn]] void fail(const std::string& message) const;

 private:
  const nlohmann::json* value_;
  const std::string* origin_;
  std::string path_;
};

}  // namespace allm::hf
