#include "allm/host/config.hpp"

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "allm/error.hpp"
#include "allm/json_depth.hpp"

namespace allm {
extern const char* const kBuiltinConfigJson;
}

namespace allm::host {

using json = nlohmann::json;

const json& builtin_config() {
  static const json j = json::parse(kBuiltinConfigJson);
  return j;
}

// 1-based line and column of byte offset `pos` in `text`.
static std::pair<size_t, size_t> line_col(const std::string& text, size_t pos) {
  size_t line = 1, col = 1;
  for (size_t i = 0; i < pos && i < text.size(); ++i) {
    if (text[i] == '\n') {
      ++line;
      col = 1;
    } else {
      ++col;
    }
  }
  return {line, col};
}

// Line where `"key"` first appears (best effort, for messages).
static size_t line_of_key(const std::string& text, const std::string& key) {
  auto pos = text.find("\"" + key + "\"");
  return pos == std::string::npos ? 0 : line_col(text, pos).first;
}

static std::string where(const std::string& file, const std::string& text, const std::string& key) {
  auto line = line_of_key(text, key.substr(key.rfind('.') + 1));
  return file + (line ? ":" + std::to_string(line) : std::string()) + ": key '" + key + "'";
}

static const char* type_name(const json& v) {
  if (v.is_boolean()) return "a boolean";
  if (v.is_number_integer()) return "an integer";
  if (v.is_number()) return "a number";
  if (v.is_string()) return "a string";
  if (v.is_array()) return "a list";
  if (v.is_object()) return "an object";
  return "null";
}

// Checks `value` can stand where the default `like` stands.
static bool same_type(const json& like, const json& value) {
  if (like.is_number_float()) return value.is_number();
  if (like.is_number_integer()) return value.is_number_integer();
  if (like.is_array()) return value.is_array();
  return std::string(type_name(like)) == type_name(value);
}

// Merges `layer` into `merged` key by key, validating every key against the
// built-in schema and recording where each value came from.
static void merge_layer(json& merged, std::map<std::string, std::string>& origin, const json& layer,
                        const json& schema, const std::string& prefix, const std::string& layer_name,
                        const std::string& file, const std::string& text) {
  if (!layer.is_object())
    throw ConfigError(file + ": expected a JSON object" + (prefix.empty() ? "" : " at key '" + prefix + "'"));
  for (auto& [key, value] : layer.items()) {
    std::string dotted = prefix.empty() ? key : prefix + "." + key;
    if (!schema.contains(key))
      throw ConfigError(where(file, text, dotted) + " is not a known setting (see allm config show)");
    const json& like = schema.at(key);
    if (like.is_object()) {
      merge_layer(merged[key], origin, value, like, dotted, layer_name, file, text);
      continue;
    }
    if (!same_type(like, value))
      throw ConfigError(where(file, text, dotted) + " must be " + type_name(like) + ", not " + type_name(value));
    if (like.is_array())
      for (auto& item : value)
        if (!item.is_string()) throw ConfigError(where(file, text, dotted) + " must be a list of strings");
    merged[key] = value;
    origin[dotted] = layer_name;
  }
}

static void collect_leaves(const json& j, const std::string& prefix, std::vector<std::string>& out) {
  for (auto& [key, value] : j.items()) {
    std::string dotted = prefix.empty() ? key : prefix + "." + key;
    if (value.is_object())
      collect_leaves(value, dotted, out);
    else
      out.push_back(dotted);
  }
}

static std::optional<std::string> env(const char* name) {
  const char* v = std::getenv(name);
  if (!v || !*v) return std::nullopt;
  return std::string(v);
}

// Parses an environment or flag string as the type the schema wants.
static json parse_scalar(const json& like, const std::string& text, const std::string& what) {
  try {
    if (like.is_string()) return text;
    if (like.is_boolean()) {
      if (text == "1" || text == "true") return true;
      if (text == "0" || text == "false") return false;
      throw std::invalid_argument("");
    }
    if (like.is_array()) {
      json list = json::array();
      std::stringstream ss(text);
      std::string item;
      while (std::getline(ss, item, ':'))
        if (!item.empty()) list.push_back(item);
      return list;
    }
    size_t used = 0;
    if (like.is_number_integer()) {
      long long v = std::stoll(text, &used);
      if (used != text.size()) throw std::invalid_argument("");
      return v;
    }
    double v = std::stod(text, &used);
    if (used != text.size()) throw std::invalid_argument("");
    return v;
  } catch (const std::exception&) {
    throw ConfigError(what + " must be " + type_name(like) + ", got '" + text + "'");
  }
}

static const json* schema_at(const std::string& dotted) {
  const json* node = &builtin_config();
  std::stringstream ss(dotted);
  std::string part;
  while (std::getline(ss, part, '.')) {
    if (!node->is_object() || !node->contains(part)) return nullptr;
    node = &node->at(part);
  }
  return node;
}

static void set_dotted(json& j, const std::string& dotted, const json& value) {
  json* node = &j;
  std::stringstream ss(dotted);
  std::string part;
  std::vector<std::string> parts;
  while (std::getline(ss, part, '.')) parts.push_back(part);
  for (size_t i = 0; i + 1 < parts.size(); ++i) node = &(*node)[parts[i]];
  (*node)[parts.back()] = value;
}

static void merge_file(json& merged, std::map<std::string, std::string>& origin, const std::filesystem::path& path,
                       const std::string& layer, std::vector<std::filesystem::path>& read) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return;  // an absent layer is simply skipped
  std::stringstream buffer;
  buffer << in.rdbuf();
  std::string text = buffer.str();
  json parsed;
  if (std::string depth = json_depth_error(text); !depth.empty()) throw ConfigError(path.string() + ": " + depth);
  try {
    parsed = json::parse(text);
  } catch (const json::parse_error& e) {
    auto [line, col] = line_col(text, e.byte > 0 ? e.byte - 1 : 0);
    std::string msg = e.what();
    auto cut = msg.find(": ", msg.find("parse error"));
    throw ConfigError(path.string() + ":" + std::to_string(line) + ":" + std::to_string(col) +
                      ": malformed JSON" + (cut == std::string::npos ? "" : msg.substr(cut)));
  }
  merge_layer(merged, origin, parsed, builtin_config(), "", layer + " (" + path.string() + ")", path.string(),
              text);
  read.push_back(path);
}

Config Config::load(const ConfigSources& sources) {
  Config c;
  c.merged_ = builtin_config();
  std::vector<std::string> leaves;
  collect_leaves(c.merged_, "", leaves);
  for (auto& k : leaves) c.origin_[k] = "default";

  std::filesystem::path system_file = sources.system_file.value_or(
      env("ALLM_SYSTEM_CONFIG").value_or("/etc/allm/config.json"));
  merge_file(c.merged_, c.origin_, system_file, "system", c.files_read_);

  std::filesystem::path user_file;
  if (sources.user_file) {
    user_file = *sources.user_file;
    if (!std::filesystem::exists(user_file)) throw ConfigError(user_file.string() + ": config file not found");
  } else if (auto e = env("ALLM_CONFIG")) {
    user_file = *e;
  } else if (auto xdg = env("XDG_CONFIG_HOME")) {
    user_file = std::filesystem::path(*xdg) / "allm" / "config.json";
  } else if (auto home = env("HOME")) {
    user_file = std::filesystem::path(*home) / ".config" / "allm" / "config.json";
  }
  if (!user_file.empty()) merge_file(c.merged_, c.origin_, user_file, "user", c.files_read_);

  // ALLM_<DOTTED_KEY_UPPERCASED_WITH_UNDERSCORES>, e.g. ALLM_GENERATION_TEMPERATURE.
  if (sources.read_environment) {
    for (auto& key : leaves) {
      std::string name = "ALLM_";
      for (char ch : key) name += ch == '.' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
      if (auto v = env(name.c_str())) {
        set_dotted(c.merged_, key, parse_scalar(*schema_at(key), *v, "environment variable " + name));
        c.origin_[key] = "environment (" + name + ")";
      }
    }
  }

  for (auto& [key, value] : sources.flags.items()) {
    const nlohmann::json* like = schema_at(key);
    if (!like || like->is_object()) throw ConfigError("--set: '" + key + "' is not a known setting");
    nlohmann::json v = value.is_string() ? parse_scalar(*like, value.get<std::string>(), "--set " + key) : value;
    set_dotted(c.merged_, key, v);
    c.origin_[key] = "command line";
  }
  return c;
}

const json& Config::at(const std::string& dotted_key) const {
  const nlohmann::json* node = &merged_;
  std::stringstream ss(dotted_key);
  std::string part;
  while (std::getline(ss, part, '.')) {
    if (!node->is_object() || !node->contains(part))
      throw ConfigError("no configuration key '" + dotted_key + "'");
    node = &node->at(part);
  }
  return *node;
}

std::string Config::origin(const std::string& dotted_key) const {
  auto it = origin_.find(dotted_key);
  return it == origin_.end() ? "default" : it->second;
}

std::vector<std::string> Config::keys() const {
  std::vector<std::string> out;
  collect_leaves(merged_, "", out);
  return out;
}

}  // namespace allm::host
