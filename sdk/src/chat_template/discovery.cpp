// Finding a model's chat template: chat_template.jinja, chat_template.json,
// tokenizer_config.json, a named file, or text from elsewhere (GGUF).
#include <fstream>
#include <sstream>

#include "allm/chat_template.hpp"
#include "allm/error.hpp"
#include "allm/json_depth.hpp"
#include "allm/log.hpp"

namespace allm {
namespace {

namespace fs = std::filesystem;

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw IoError("cannot read " + path.string());
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) throw IoError("error reading " + path.string());
  return ss.str();
}

nlohmann::ordered_json read_json(const fs::path& path) {
  std::string text = read_file(path);
  if (std::string depth = json_depth_error(text); !depth.empty()) throw TemplateError(path.string() + ": " + depth);
  try {
    return nlohmann::ordered_json::parse(text);
  } catch (const nlohmann::json::parse_error& e) {
    throw TemplateError(path.string() + ": invalid JSON at byte " + std::to_string(e.byte) + ": " + e.what());
  }
}

ChatTemplateSource fallback(const std::string& why) {
  log().warn("{}; using the plain fallback chat template (\"role: content\" lines)", why);
  return {fallback_chat_template(), "<fallback chat template>", true};
}

// A chat_template.json / tokenizer_config.json: its `chat_template` key.
std::optional<ChatTemplateSource> from_json_file(const fs::path& path, const std::string& name) {
  auto j = read_json(path);
  if (!j.is_object()) throw TemplateError(path.string() + ": expected a JSON object");
  auto it = j.find("chat_template");
  if (it == j.end() || it->is_null()) return std::nullopt;
  std::string where = path.string() + ":chat_template";
  auto text = select_chat_template(*it, name, where);
  if (!text) return std::nullopt;
  return ChatTemplateSource{*text, where, false};
}

}  // namespace

const std::string& fallback_chat_template() {
  static const std::string text =
      "{%- for message in messages %}"
      "{{- message.role + ': ' }}"
      "{%- if message.content is string %}{{- message.content }}"
      "{%- elif message.content is iterable %}"
      "{%- for part in message.content if part.type == 'text' %}{{- part.text }}{%- endfor %}"
      "{%- endif %}"
      "{{- '\\n' }}"
      "{%- endfor %}"
      "{%- if add_generation_prompt %}{{- 'assistant: ' }}{%- endif %}";
  return text;
}

std::optional<std::string> select_chat_template(const nlohmann::ordered_json& value, const std::string& name,
                                                const std::string& where) {
  std::string want = name.empty() ? "default" : name;
  if (value.is_string()) {
    if (!name.empty() && name != "default")
      throw TemplateError(where + ": holds a single template; there is no template named '" + name + "'");
    return value.get<std::string>();
  }
  if (value.is_null()) return std::nullopt;
  if (!value.is_array()) throw TemplateError(where + ": expected a string or a list of {name, template}");
  std::string names;
  for (size_t i = 0; i < value.size(); ++i) {
    const auto& entry = value[i];
    if (!entry.is_object() || !entry.contains("name") || !entry.contains("template") || !entry["name"].is_string() ||
        !entry["template"].is_string())
      throw TemplateError(where + "[" + std::to_string(i) + "]: expected {\"name\": string, \"template\": string}");
    if (entry["name"].get<std::string>() == want) return entry["template"].get<std::string>();
    names += (names.empty() ? "" : ", ") + entry["name"].get<std::string>();
  }
  if (name.empty())
    throw TemplateError(where + ": several templates and none named 'default'; choose one of: " + names);
  throw TemplateError(where + ": no template named '" + name + "' (available: " + names + ")");
}

ChatTemplateSource find_chat_template(const std::filesystem::path& source, const std::string& name) {
  std::error_code ec;
  if (fs::is_regular_file(source, ec)) {
    if (source.extension() == ".json") {
      if (auto t = from_json_file(source, name)) return *t;
      return fallback(source.string() + " has no chat_template");
    }
    return {read_file(source), source.string(), false};
  }
  if (!fs::is_directory(source, ec)) throw IoError("no such file or directory: " + source.string());

  if (!name.empty() && name != "default") {
    fs::path extra = source / "additional_chat_templates" / (name + ".jinja");
    if (fs::is_regular_file(extra, ec)) return {read_file(extra), extra.string(), false};
  }
  fs::path jinja_file = source / "chat_template.jinja";
  if ((name.empty() || name == "default") && fs::is_regular_file(jinja_file, ec))
    return {read_file(jinja_file), jinja_file.string(), false};
  for (const char* file : {"chat_template.json", "tokenizer_config.json"}) {
    fs::path p = source / file;
    if (fs::is_regular_file(p, ec))
      if (auto t = from_json_file(p, name)) return *t;
  }
  if (!name.empty() && name != "default")
    throw TemplateError(source.string() + ": no chat template named '" + name + "'");
  return fallback(source.string() + " has no chat template");
}

ChatTemplateSource chat_template_from_text(std::string text, std::string origin) {
  if (text.empty()) return fallback(origin + " holds no chat template");
  return {std::move(text), std::move(origin), false};
}

}  // namespace allm
