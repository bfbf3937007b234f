// The formats: names, which chat templates use which (detected from the
// markers a template renders), and each format's syntax entry.
#include "allm/error.hpp"
#include "syntax.hpp"

namespace allm::tools {

namespace {

std::string quoted(const std::string& name) { return ojson(name).dump(); }

std::string hermes_before(const std::string& name) {
  return "<tool_call>\n{\"name\": " + quoted(name) + ", \"arguments\": ";
}
std::string llama3_before(const std::string& name) { return "{\"name\": " + quoted(name) + ", \"parameters\": "; }
std::string mistral_list_before(const std::string& name) {
  return "{\"name\": " + quoted(name) + ", \"arguments\": ";
}
std::string mistral_args_before(const std::string& name) { return "[TOOL_CALLS]" + name + "[ARGS]"; }
std::string harmony_before(const std::string& name) {
  return "<|channel|>commentary to=functions." + name + " <|constrain|>json<|message|>";
}
std::string deepseek_r1_before(const std::string& name) {
  return "<｜tool▁call▁begin｜>function<｜tool▁sep｜>" + name + "\n```json\n";
}
std::string gemma4_before(const std::string& name) { return "<|tool_call>call:" + name; }
std::string deepseek_v3_1_before(const std::string& name) {
  return "<｜tool▁call▁begin｜>" + name + "<｜tool▁sep｜>";
}

const std::vector<Syntax>& table() {
  static const std::vector<Syntax> t = {
      {Format::none, {}, false, nullptr, {}, {}, {}},
      {Format::hermes, {"<tool_call>"}, false, parse_hermes, {}, {}, {"", "\n", "", hermes_before, "}\n</tool_call>"}},
      // Constrained replies use the JSON body (read by the same tag); the XML
      // form's plain-text values cannot carry a schema's types exactly.
      {Format::qwen3_coder, {"<tool_call>"}, false, parse_hermes, {}, {}, {"", "\n", "", hermes_before, "}\n</tool_call>"}},
      {Format::llama3, {"<|python_tag|>"}, true, parse_llama3, {}, {"<|python_tag|>"}, {"", "\n", "", llama3_before, "}"}},
      {Format::mistral, {"[TOOL_CALLS]"}, false, parse_mistral, {}, {"[TOOL_CALLS]"},
       {"[TOOL_CALLS][", ", ", "]", mistral_list_before, "}"}},
      {Format::mistral_args, {"[TOOL_CALLS]"}, false, parse_mistral, {}, {"[TOOL_CALLS]", "[ARGS]", "[CALL_ID]"},
       {"", "", "", mistral_args_before, ""}},
      {Format::harmony,
       {"<|channel|>commentary to=functions.", " to=functions."},
       false,
       parse_harmony,
       {"<|start|>assistant", "<|channel|>final<|message|>", "<|channel|>commentary<|message|>", "<|end|>",
        "<|return|>"},
       {"<|start|>", "<|channel|>", "<|message|>", "<|constrain|>", "<|end|>", "<|call|>", "<|return|>"},
       {"", "<|start|>assistant", "", harmony_before, "<|call|>"}},
      {Format::deepseek_r1, {"<｜tool▁calls▁begin｜>", "<｜tool▁call▁begin｜>"}, false, parse_deepseek, {}, {},
       {"<｜tool▁calls▁begin｜>", "\n", "<｜tool▁calls▁end｜>", deepseek_r1_before, "\n```<｜tool▁call▁end｜>"}},
      {Format::deepseek_v3_1, {"<｜tool▁calls▁begin｜>", "<｜tool▁call▁begin｜>"}, false, parse_deepseek, {}, {},
       {"<｜tool▁calls▁begin｜>", "", "<｜tool▁calls▁end｜>", deepseek_v3_1_before, "<｜tool▁call▁end｜>"}},
      {Format::gemma4, {"<|tool_call>"}, false, parse_gemma4, {}, {"<|tool_call>", "<tool_call|>", "<|\"|>"},
       {"", "", "", gemma4_before, "<tool_call|>"}},
  };
  return t;
}

struct NameEntry {
  Format format;
  const char* name;
};
constexpr NameEntry kNames[] = {{Format::none, "none"},           {Format::hermes, "hermes"},
                                {Format::qwen3_coder, "qwen3_coder"}, {Format::llama3, "llama3"},
                                {Format::mistral, "mistral"},     {Format::mistral_args, "mistral_args"},
                                {Format::harmony, "harmony"},     {Format::deepseek_r1, "deepseek_r1"},
                                {Format::deepseek_v3_1, "deepseek_v3_1"}, {Format::gemma4, "gemma4"}};

// Detection: the first row whose every marker the template contains. Order
// matters where syntaxes share a marker (Qwen3-Coder's XML is inside
// <tool_call>; Mistral's [ARGS] form also writes [TOOL_CALLS]).
struct DetectRow {
  Format format;
  std::vector<std::string_view> all;
};
const std::vector<DetectRow>& detect_table() {
  static const std::vector<DetectRow> t = {
      {Format::harmony, {"<|channel|>", "to=functions."}},
      {Format::harmony, {"<|channel|>", "assistant to="}},
      {Format::qwen3_coder, {"<tool_call>", "<function="}},
      {Format::hermes, {"<tool_call>"}},
      {Format::mistral_args, {"[TOOL_CALLS]", "[ARGS]"}},
      {Format::mistral, {"[TOOL_CALLS]"}},
      {Format::deepseek_r1, {"tool▁calls▁begin", "```json"}},
      {Format::deepseek_v3_1, {"tool▁calls▁begin"}},
      {Format::gemma4, {"<|tool_call>call:", "<tool_call|>"}},
      {Format::llama3, {"<|python_tag|>"}},
      {Format::llama3, {"<|start_header_id|>", "\"parameters\": "}},
  };
  return t;
}

}  // namespace

const Syntax& syntax_of(Format f) {
  for (const auto& s : table())
    if (s.format == f) return s;
  return table().front();
}

const char* format_name(Format f) {
  for (const auto& e : kNames)
    if (e.format == f) return e.name;
  return "none";
}

std::optional<Format> format_from_name(std::string_view name) {
  for (const auto& e : kNames)
    if (name == e.name) return e.format;
  return std::nullopt;
}

std::string format_names() {
  std::string out;
  for (const auto& e : kNames) out += std::string(out.empty() ? "" : ", ") + e.name;
  return out;
}

Dialect detect_dialect(std::string_view src) {
  Dialect d;
  for (const auto& row : detect_table()) {
    bool all = true;
    for (auto m : row.all) all = all && src.find(m) != std::string_view::npos;
    if (all) {
      d.format = row.format;
      break;
    }
  }
  if (d.format == Format::harmony) {
    d.think_open = "<|channel|>analysis<|message|>";
    d.think_close = "<|end|>";
  } else if (src.find("</think>") != std::string_view::npos) {
    d.think_open = "<think>";
    d.think_close = "</think>";
  } else if (src.find("[/THINK]") != std::string_view::npos) {
    d.think_open = "[THINK]";
    d.think_close = "[/THINK]";
  }
  return d;
}

bool prompt_opens_reasoning(const Dialect& d, std::string_view prompt) {
  if (d.think_open.empty() || d.format == Format::harmony) return false;
  const size_t open = prompt.rfind(d.think_open);
  if (open == std::string_view::npos) return false;
  const size_t close = prompt.find(d.think_close, open);
  if (close != std::string_view::npos) return false;
  // Only blanks after the opening tag: the model continues inside it.
  return skip_blanks(prompt, open + d.think_open.size()) == prompt.size();
}

std::vector<std::string> preserved_tokens(const Dialect& d) {
  std::vector<std::string> out = syntax_of(d.format).preserved;
  if (!d.think_open.empty() && d.format != Format::harmony) {
    out.push_back(d.think_open);
    out.push_back(d.think_close);
  }
  return out;
}

}  // namespace allm::tools
