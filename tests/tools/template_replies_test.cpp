// Each family's parser on what its real chat template (llama.cpp's
// models/templates, tests/data/jinja/llama_cpp) renders for an assistant turn
// with tool calls: the rendering of the conversation with that turn, minus
// the rendering of the prompt before it, is exactly the text the model was
// trained to write. The oracle is the conversation's own tool_calls.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "allm/chat_template.hpp"
#include "allm/error.hpp"
#include "parse_support.hpp"

namespace allm::tools {
namespace {

using nlohmann::json;
using nlohmann::ordered_json;

std::string read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

const ordered_json& weather_tools() {
  static const ordered_json t = ordered_json::parse(R"([{"type": "function", "function": {"name": "get_weather",
    "description": "Get the current weather for a city.", "parameters": {"type": "object", "properties":
    {"city": {"type": "string", "description": "City name"}, "unit": {"type": "string", "enum": ["celsius",
    "fahrenheit"]}, "days": {"type": "integer"}}, "required": ["city"]}}}])");
  return t;
}

// The conversation: a user turn, then an assistant turn calling the tool once
// or twice (Mistral's templates want 9-character alphanumeric ids).
ordered_json conversation(bool two) {
  ordered_json calls = ordered_json::array();
  calls.push_back({{"id", "call00001"}, {"type", "function"},
                   {"function", {{"name", "get_weather"}, {"arguments", {{"city", "Paris"}, {"unit", "celsius"}}}}}});
  if (two)
    calls.push_back({{"id", "call00002"}, {"type", "function"},
                     {"function", {{"name", "get_weather"}, {"arguments", {{"city", "Oslo"}, {"days", 3}}}}}});
  return ordered_json::array({{{"role", "user"}, {"content", "Weather in Paris and Oslo?"}},
                              {{"role", "assistant"}, {"content", two ? "Checking both." : ""}, {"tool_calls", calls}}});
}

struct Family {
  const char* tpl;
  Format format;
  int parallel;  // calls the template renders for two: 2, 1 (first only), 0 (it refuses)
  bool reasoning_text;  // the text beside the calls is rendered as reasoning (harmony)
  bool prompt_differs = false;  // the generation prompt is not a prefix of the rendered turn
};

// Test names and failure messages show the template, not the struct's bytes.
void PrintTo(const Family& f, std::ostream* os) { *os << f.tpl; }

class TemplateReplies : public ::testing::TestWithParam<Family> {};

TEST_P(TemplateReplies, ParseToTheCallsRendered) {
  const Family fam = GetParam();
  const std::string src = read_file(std::string(ALLM_TEST_DATA_DIR) + "/jinja/llama_cpp/" + fam.tpl + ".jinja");
  ASSERT_FALSE(src.empty()) << fam.tpl;
  Dialect d = detect_dialect(src);
  EXPECT_EQ(format_name(d.format), std::string(format_name(fam.format))) << fam.tpl;
  const ChatTemplate tpl = ChatTemplate::parse(src, fam.tpl);
  for (bool two : {false, true}) {
    if (two && fam.parallel == 0) continue;
    const ordered_json msgs = conversation(two);
    ChatRequest before, with;
    before.messages = ordered_json::array({msgs[0]});
    before.tools = with.tools = weather_tools();
    before.add_generation_prompt = true;
    with.messages = msgs;
    before.variables = with.variables = {{"bos_token", "<s>"}, {"eos_token", "</s>"}};
    const std::string prompt = render_chat(tpl, before);
    const std::string full = render_chat(tpl, with);
    // Gemma 4's generation prompt adds an empty thought channel the rendered
    // turn does not have: there the reply starts after the common lines.
    size_t common = 0;
    while (common < prompt.size() && common < full.size() && prompt[common] == full[common]) ++common;
    if (common < prompt.size()) {
      ASSERT_TRUE(fam.prompt_differs) << fam.tpl << ": the prompt is not a prefix";
      common = full.rfind('\n', common - 1) + 1;
    }
    std::string reply = full.substr(common);
    // The model stops at its end-of-turn token (an EOS: never in the text).
    for (const char* eos :
         {"<|im_end|>", "<|eot_id|>", "<|eom_id|>", "</s>", "<｜end▁of▁sentence｜>", "<|return|>", "<|tool_response>"})
      if (size_t at = reply.find(eos); at != std::string::npos) reply.resize(at);
    d.starts_in_reasoning = prompt_opens_reasoning(d, prompt);
    SCOPED_TRACE(std::string(fam.tpl) + (two ? " (two calls)" : " (one call)") + ": " + reply);
    test::StreamedCalls streamed;
    const ParsedReply r = test::parse_every_way(d, json::parse(weather_tools().dump()), reply, &streamed);
    const size_t n = two ? static_cast<size_t>(fam.parallel) : 1;
    ASSERT_EQ(r.tool_calls.size(), n) << test::show(r);
    // Streamed token by token, each call starts before the reply ends and its
    // arguments come in pieces as they are written.
    EXPECT_EQ(streamed.started, n);
    EXPECT_EQ(streamed.abandoned, 0u);
    EXPECT_TRUE(streamed.start_before_end);
    for (size_t pieces : streamed.pieces) EXPECT_GT(pieces, 1u) << "the arguments came in one piece";
    const ordered_json calls = msgs[1]["tool_calls"];
    for (size_t i = 0; i < n; ++i) {
      EXPECT_EQ(r.tool_calls[i].name, "get_weather");
      EXPECT_EQ(json::parse(r.tool_calls[i].arguments), json::parse(calls[i]["function"]["arguments"].dump()))
          << r.tool_calls[i].arguments;
    }
    // Some templates drop the text beside calls; what they render is expected back.
    const std::string said = two && reply.find("Checking both.") != std::string::npos ? "Checking both." : "";
    auto trim = [](std::string s) {
      while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.pop_back();
      while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.erase(0, 1);
      return s;
    };
    EXPECT_EQ(trim(fam.reasoning_text ? r.reasoning : r.content), said) << test::show(r);
    if (!fam.reasoning_text) {
      EXPECT_EQ(trim(r.reasoning), "") << test::show(r);
    }
    EXPECT_EQ(r.content.find("tool_call"), std::string::npos) << "no call text left in content";
  }
}

INSTANTIATE_TEST_SUITE_P(
    Families, TemplateReplies,
    ::testing::Values(Family{"Qwen-Qwen2.5-7B-Instruct", Format::hermes, 2, false},
                      Family{"Qwen-Qwen3-0.6B", Format::hermes, 2, false},
                      Family{"NousResearch-Hermes-2-Pro-Llama-3-8B-tool_use", Format::hermes, 2, false},
                      Family{"NousResearch-Hermes-3-Llama-3.1-8B-tool_use", Format::hermes, 2, false},
                      Family{"Qwen3-Coder", Format::qwen3_coder, 2, false},
                      Family{"Qwen3.5-4B", Format::qwen3_coder, 2, false},
                      Family{"meta-llama-Llama-3.1-8B-Instruct", Format::llama3, 0, false},
                      Family{"meta-llama-Llama-3.2-3B-Instruct", Format::llama3, 0, false},
                      Family{"meta-llama-Llama-3.3-70B-Instruct", Format::llama3, 0, false},
                      Family{"mistralai-Mistral-Nemo-Instruct-2407", Format::mistral, 2, false},
                      Family{"Mistral-Small-3.2-24B-Instruct-2506", Format::mistral_args, 2, false},
                      Family{"unsloth-mistral-Devstral-Small-2507", Format::mistral_args, 2, false},
                      Family{"mistralai-Ministral-3-14B-Reasoning-2512", Format::mistral_args, 2, false},
                      Family{"openai-gpt-oss-120b", Format::harmony, 1, true},
                      Family{"deepseek-ai-DeepSeek-V3.1", Format::deepseek_v3_1, 2, false},
                      Family{"google-gemma-4-31B-it", Format::gemma4, 2, false, true}),
    [](const ::testing::TestParamInfo<Family>& info) {
      std::string n = info.param.tpl;
      for (char& c : n)
        if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
      return n;
    });

}  // namespace
}  // namespace allm::tools
