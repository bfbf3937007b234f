// Feeds random templates and contexts to the chat-template parser and
// renderer. Input: TEMPLATE [ '\0' CONTEXT-JSON ]. Any TemplateError or
// InvalidArgumentError is an expected outcome; crashes, sanitizer reports,
// other exceptions and hangs are bugs.
#include <cstddef>
#include <cstdint>
#include <string>

#include "allm/chat_template.hpp"
#include "allm/error.hpp"

namespace {

const nlohmann::ordered_json& default_context() {
  static const nlohmann::ordered_json ctx = nlohmann::ordered_json::parse(R"({
    "messages": [{"role": "system", "content": "Be brief."},
                 {"role": "user", "content": "Hi \u00e9 {{ x }}"},
                 {"role": "assistant", "content": "", "tool_calls": [{"type": "function",
                   "function": {"name": "f", "arguments": {"a": 1, "b": [1.5, null, true]}}}]},
                 {"role": "tool", "content": "42"}],
    "tools": [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}],
    "add_generation_prompt": true, "bos_token": "<s>", "eos_token": "</s>", "n": null, "x": 3})");
  return ctx;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string input(reinterpret_cast<const char*>(data), size);
  size_t split = input.find('\0');
  std::string source = input.substr(0, split);
  nlohmann::ordered_json context = default_context();
  if (split != std::string::npos) {
    auto parsed = nlohmann::ordered_json::parse(input.substr(split + 1), nullptr, false);
    if (!parsed.is_discarded()) context = parsed;
  }
  allm::RenderOptions options;
  options.limits.max_output_bytes = 1 << 20;
  options.limits.max_steps = 200000;
  options.limits.max_depth = 64;
  options.limits.max_memory_bytes = 32 << 20;
  options.clock = [] {
    std::tm tm{};
    tm.tm_year = 126;
    tm.tm_mon = 10;
    tm.tm_mday = 22;
    tm.tm_hour = 12;
    return tm;
  };
  try {
    allm::ChatTemplate tpl = allm::ChatTemplate::parse(source, "fuzz");
    tpl.render(context, options);
  } catch (const allm::TemplateError&) {
  } catch (const allm::InvalidArgumentError&) {
  }
  return 0;
}
