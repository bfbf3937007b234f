#include "json_fields.hpp"

#include <climits>

#include "api_error.hpp"

namespace allm::server {

json parse_body(std::string_view body, int max_depth) {
  if (body.empty()) throw bad_request("the request body is empty; expected a JSON object");
  bool too_deep = false;
  // The callback sees every value with its depth before it is built, so a
  // deeply nested body is refused before it costs memory or stack.
  json::parser_callback_t limit = [&](int depth, json::parse_event_t event, json&) {
    if ((event == json::parse_event_t::object_start || event == json::parse_event_t::array_start) &&
        depth >= max_depth) {
      too_deep = true;
      throw bad_request("JSON nesting deeper than " + std::to_string(max_depth) + " levels");
    }
    return true;
  };
  json j;
  try {
    j = json::parse(body.begin(), body.end(), limit);
  } catch (const ApiError&) {
    throw;
  } catch (const json::parse_error& e) {
    throw bad_request("malformed JSON at byte " + std::to_string(e.byte) + ": " + e.what());
  }
  (void)too_deep;
  if (!j.is_object()) throw bad_request(std::string("expected a JSON object, got ") + j.type_name());
  return j;
}

namespace {

[[noreturn]] void wrong_type(const char* key, const char* expected, const json& v) {
  throw bad_request(std::string("'") + key + "' must be " + expected + ", got " + v.type_name(), key);
}

const json* field(const json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return nullptr;
  return &*it;
}

}  // namespace

std::optional<std::string> opt_string(const json& j, const char* key) {
  const json* v = field(j, key);
  if (!v) return std::nullopt;
  if (!v->is_string()) wrong_type(key, "a string", *v);
  return v->get<std::string>();
}

std::optional<double> opt_number(const json& j, const char* key) {
  const json* v = field(j, key);
  if (!v) return std::nullopt;
  if (!v->is_number()) wrong_type(key, "a number", *v);
  return v->get<double>();
}

std::optional<int64_t> opt_int(const json& j, const char* key) {
  const json* v = field(j, key);
  if (!v) return std::nullopt;
  // A whole float within int64's range (casting one outside it is undefined: fuzz_server_request).
  if (const double d = v->is_number_float() ? v->get<double>() : 0.5;
      d >= -9223372036854775808.0 && d < 9223372036854775808.0 && d == static_cast<double>(static_cast<int64_t>(d)))
    return static_cast<int64_t>(d);
  if (!v->is_number_integer()) wrong_type(key, "an integer", *v);
  if (v->is_number_unsigned() && v->get<uint64_t>() > static_cast<uint64_t>(INT64_MAX))
    throw bad_request(std::string("'") + key + "' is out of range", key);
  return v->get<int64_t>();
}

std::optional<bool> opt_bool(const json& j, const char* key) {
  const json* v = field(j, key);
  if (!v) return std::nullopt;
  if (!v->is_boolean()) wrong_type(key, "a boolean", *v);
  return v->get<bool>();
}

std::optional<std::vector<std::string>> opt_strings(const json& j, const char* key) {
  const json* v = field(j, key);
  if (!v) return std::nullopt;
  std::vector<std::string> out;
  if (v->is_string()) {
    out.push_back(v->get<std::string>());
  } else if (v->is_array()) {
    for (auto& s : *v) {
      if (!s.is_string()) wrong_type(key, "a string or an array of strings", *v);
      out.push_back(s.get<std::string>());
    }
  } else {
    wrong_type(key, "a string or an array of strings", *v);
  }
  for (auto& s : out)
    if (s.empty()) throw bad_request(std::string("'") + key + "' contains an empty string", key);
  return out;
}

const json* opt_object(const json& j, const char* key) {
  const json* v = field(j, key);
  if (v && !v->is_object()) wrong_type(key, "an object", *v);
  return v;
}

const json* opt_array(const json& j, const char* key) {
  const json* v = field(j, key);
  if (v && !v->is_array()) wrong_type(key, "an array", *v);
  return v;
}

std::optional<int> opt_token_count(const json& j, const char* key) {
  auto v = opt_int(j, key);
  if (!v) return std::nullopt;
  if (*v < 1) throw bad_request(std::string("'") + key + "' must be at least 1, got " + std::to_string(*v), key);
  return static_cast<int>(std::min<int64_t>(*v, INT_MAX));
}

}  // namespace allm::server
