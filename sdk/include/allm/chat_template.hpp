#pragma once
// Chat templates: a sandboxed Jinja2 interpreter that renders Hugging Face chat
// templates byte-for-byte like `transformers` (trim_blocks and lstrip_blocks on,
// loop controls, a `tojson` that keeps non-ASCII, `raise_exception`,
// `strftime_now`), plus discovery of a model's template. See docs/chat-templates.md.
//
//   auto tpl = allm::ChatTemplate::parse(text, "tokenizer_config.json");
//   allm::ChatRequest req;
//   req.messages = nlohmann::ordered_json::parse(R"([{"role":"user","content":"Hi"}])");
//   req.add_generation_prompt = true;
//   req.variables = {{"bos_token", "<s>"}};
//   std::string prompt = allm::render_chat(tpl, req);
//
// Every failure (syntax, unknown filter, `raise_exception`, limits) throws
// allm::TemplateError whose message names origin, line and column.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <ctime>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace allm {

namespace jinja {
struct Program;
}

// Bounds on one render, so a template cannot loop forever, recurse without end
// or grow its output or memory without bound. Exceeding one throws
// TemplateError. docs/security.md lists every limit.
struct RenderLimits {
  size_t max_output_bytes = 64u << 20;   // also caps any single string or list built
  uint64_t max_steps = 50'000'000;       // statements executed + loop iterations + calls
  int max_depth = 200;                   // nested macro calls / expression evaluation
  size_t max_memory_bytes = 256u << 20;  // strings, list/dict slots and output held at once, context included

  // The defaults above, overridden by the merged config's `template.*` keys
  // (max_output_bytes, max_steps, max_depth, max_memory_bytes; absent keys keep
  // their default). A value that is not a positive integer throws ConfigError
  // naming the key.
  static RenderLimits from_config(const nlohmann::json& config);
};

struct RenderOptions {
  RenderLimits limits;
  // The local time `strftime_now(fmt)` formats. Empty: the system clock's local time.
  std::function<std::tm()> clock;
};

class ChatTemplate {
 public:
  // Parses `source` (Jinja2 text). `origin` names it in error messages (a file
  // path, "tokenizer_config.json:chat_template", "gguf:tokenizer.chat_template").
  static ChatTemplate parse(std::string source, std::string origin = "<template>");

  // Renders with `context` (a JSON object) as the template's variables. Key order
  // of objects is kept (it shows in `tojson` output), hence ordered_json.
  std::string render(const nlohmann::ordered_json& context, const RenderOptions& options = {}) const;

  const std::string& source() const;
  const std::string& origin() const;

 private:
  explicit ChatTemplate(std::shared_ptr<const jinja::Program> program) : program_(std::move(program)) {}
  std::shared_ptr<const jinja::Program> program_;
};

// What transformers' apply_chat_template passes to a template.
struct ChatRequest {
  nlohmann::ordered_json messages = nlohmann::ordered_json::array();
  nlohmann::ordered_json tools = nullptr;      // list of function schemas, or null
  nlohmann::ordered_json documents = nullptr;  // list of documents, or null
  bool add_generation_prompt = false;
  // Further variables: special tokens (bos_token, eos_token, ...) and template
  // switches such as enable_thinking. They override nothing above.
  nlohmann::ordered_json variables = nlohmann::ordered_json::object();
};

std::string render_chat(const ChatTemplate& tpl, const ChatRequest& request, const RenderOptions& options = {});

// Doubled-BOS guard: true when `rendered` already starts with the BOS token's
// text, so the tokenizer must not add another BOS when encoding it.
bool rendered_starts_with_bos(std::string_view rendered, std::string_view bos_token);

// ---- Finding a model's template (docs/chat-templates.md, "Sources") ----

struct ChatTemplateSource {
  std::string text;    // Jinja source
  std::string origin;  // where it came from, for messages
  bool fallback = false;  // true: no template was found; `text` is the fallback
};

// The documented fallback template used when a model ships none: one
// "role: content" line per message, then "assistant: " for a generation prompt.
const std::string& fallback_chat_template();

// Finds the template of `source`:
//   - a file: a `.jinja` (or any text) file is the template itself; a `.json` is
//     read like tokenizer_config.json / chat_template.json;
//   - a directory: `chat_template.jinja`, then `chat_template.json`, then
//     `tokenizer_config.json`'s `chat_template`.
// `name` picks one of several named templates ("default" when empty). When no
// template exists, returns the fallback (fallback = true) and logs a warning.
// Unreadable or malformed files throw IoError / TemplateError naming the file.
ChatTemplateSource find_chat_template(const std::filesystem::path& source, const std::string& name = "");

// A template given as text (e.g. the GGUF key `tokenizer.chat_template`); empty
// text means none and yields the fallback, with a warning.
ChatTemplateSource chat_template_from_text(std::string text, std::string origin);

// Picks a template out of a `chat_template` JSON value: a string, or a list of
// {"name", "template"} objects (`name` empty -> "default"). nullopt if absent.
std::optional<std::string> select_chat_template(const nlohmann::ordered_json& value, const std::string& name,
                                                const std::string& where);

}  // namespace allm
