#pragma once
// Request bodies: JSON parsed with a nesting limit, and typed field readers
// whose errors name the field (a 400 in the route's own shape).
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace allm::server {

using nlohmann::json;

// Parses `body` as a JSON object; malformed text, a non-object or nesting
// deeper than `max_depth` throws ApiError 400 saying where.
json parse_body(std::string_view body, int max_depth);

// Optional typed fields: absent or null -> nullopt; another type -> 400 naming `key`.
std::optional<std::string> opt_string(const json& j, const char* key);
std::optional<double> opt_number(const json& j, const char* key);
std::optional<int64_t> opt_int(const json& j, const char* key);
std::optional<bool> opt_bool(const json& j, const char* key);
// A string or an array of strings (OpenAI's "stop", Ollama's "stop").
std::optional<std::vector<std::string>> opt_strings(const json& j, const char* key);
// Requires an object/array field when present.
const json* opt_object(const json& j, const char* key);
const json* opt_array(const json& j, const char* key);

// A positive token count within int range; `key` names it in errors.
std::optional<int> opt_token_count(const json& j, const char* key);

}  // namespace allm::server
