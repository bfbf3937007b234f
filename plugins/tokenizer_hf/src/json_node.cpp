#include "json_node.hpp"

namespace allm::hf {

static const char* kind_name(const nlohmann::json& v) {
  switch (v.type()) {
    case nlohmann::json::value_t::null: return "null";
    case nlohmann::json::value_t::object: return "an object";
    case nlohmann::json::value_t::array: return "an array";
    case nlohmann::json::value_t::string: return "a string";
    case nlohmann::json::value_t::boolean: return "a boolean";
    case nlohmann::json::value_t::number_integer:
    case nlohmann::json::value_t::number_unsigned: return "an integer";
    case nlohmann::json::value_t::number_float: return "a number";
    default: return "an unsupported value";
  }
}

// JSON pointer escaping (RFC 6901) for keys holding '/' or '~'.
static std::string escape_key(std::string_view key) {
  std::string out;
  for (char c : key) {
    if (c == '~') out += "~0";
    else if (c == '/') out += "~1";
    else out += c;
  }
  return out;
}

void JsonNode::fail(const std::string& message) const {
  throw TokenizerError(*origin_ + ": " + (path_.empty() ? "/" : path_) + ": " + message);
}

bool JsonNode::has(std::string_view key) const {
  return value_->is_object() && value_->find(key) != value_->end();
}

std::optional<JsonNode> JsonNode::get(std::string_view key) const {
  if (!value_->is_object()) fail(std::string("expected an object, found ") + kind_name(*value_));
  auto it = value_->find(key);
  if (it == value_->end() || it->is_null()) return std::nullopt;
  return JsonNode(*it, *origin_, path_ + "/" + escape_key(key));
}

JsonNode JsonNode::at(std::string_view key) const {
  if (!value_->is_object()) fail(std::string("expected an object, found ") + kind_name(*value_));
  auto it = value_->find(key);
  if (it == value_->end()) fail("missing member '" + std::string(key) + "'");
  return JsonNode(*it, *origin_, path_ + "/" + escape_key(key));
}

JsonNode JsonNode::at(size_t index) const {
  if (!value_->is_array()) fail(std::string("expected an array, found ") + kind_name(*value_));
  if (index >= value_->size()) fail("index " + std::to_string(index) + " out of range");
  return JsonNode((*value_)[index], *origin_, path_ + "/" + std::to_string(index));
}

size_t JsonNode::size() const {
  if (!value_->is_array() && !value_->is_object())
    fail(std::string("expected an array or object, found ") + kind_name(*value_));
  return value_->size();
}

std::string JsonNode::as_string() const {
  if (!value_->is_string()) fail(std::string("expected a string, found ") + kind_name(*value_));
  return value_->get_ref<const std::string&>();
}

bool JsonNode::as_bool() const {
  if (!value_->is_boolean()) fail(std::string("expected a boolean, found ") + kind_name(*value_));
  return value_->get<bool>();
}

int64_t JsonNode::as_int() const {
  if (!value_->is_number_integer()) fail(std::string("expected an integer, found ") + kind_name(*value_));
  return value_->get<int64_t>();
}

double JsonNode::as_number() const {
  if (!value_->is_number()) fail(std::string("expected a number, found ") + kind_name(*value_));
  return value_->get<double>();
}

std::string JsonNode::string_or(std::string_view key, std::string fallback) const {
  auto v = get(key);
  return v ? v->as_string() : fallback;
}

bool JsonNode::bool_or(std::string_view key, bool fallback) const {
  auto v = get(key);
  return v ? v->as_bool() : fallback;
}

int64_t JsonNode::int_or(std::string_view key, int64_t fallback) const {
  auto v = get(key);
  return v ? v->as_int() : fallback;
}

std::optional<std::string> JsonNode::optional_string(std::string_view key) const {
  auto v = get(key);
  if (!v) return std::nullopt;
  return v->as_string();
}

}  // namespace allm::hf
