// tool_choice grammars: what they accept and reject, that every format's
// constrained reply parses back into the same call, and the errors.
#include <gtest/gtest.h>

#include <functional>

#include "allm/error.hpp"
#include "allm/grammar.hpp"
#include "parse_support.hpp"
#include "test_support.hpp"

namespace allm::tools {
namespace {

using nlohmann::json;
using grammar::test::accepts;

const json& grammar_tools() {
  static const json t = json::parse(R"([
    {"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object",
      "properties": {"city": {"type": "string"}, "unit": {"enum": ["celsius", "fahrenheit"]}},
      "required": ["city"], "additionalProperties": false}}},
    {"type": "function", "function": {"name": "get_time"}}])");
  return t;
}

TEST(CallGrammar, HermesOneCallValidArguments) {
  auto g = compile_call_grammar(Format::hermes, grammar_tools(), {}, false);
  EXPECT_TRUE(accepts(g, "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}\n</tool_call>"));
  EXPECT_TRUE(accepts(g, "<tool_call>\n{\"name\": \"get_time\", \"arguments\": {\"any\": [1]}}\n</tool_call>"));
  // Arguments outside the schema, unknown tools, two calls, text around it.
  EXPECT_FALSE(accepts(g, "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {}}\n</tool_call>"));
  EXPECT_FALSE(accepts(g, "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"P\", \"unit\": \"K\"}}\n</tool_call>"));
  EXPECT_FALSE(accepts(g, "<tool_call>\n{\"name\": \"rm_rf\", \"arguments\": {}}\n</tool_call>"));
  EXPECT_FALSE(accepts(g, "<tool_call>\n{\"name\": \"get_time\", \"arguments\": {}}\n</tool_call>\n"
                          "<tool_call>\n{\"name\": \"get_time\", \"arguments\": {}}\n</tool_call>"));
  EXPECT_FALSE(accepts(g, "Sure! <tool_call>\n{\"name\": \"get_time\", \"arguments\": {}}\n</tool_call>"));
}

TEST(CallGrammar, ParallelAndNamed) {
  auto g = compile_call_grammar(Format::hermes, grammar_tools(), {}, true);
  EXPECT_TRUE(accepts(g, "<tool_call>\n{\"name\": \"get_time\", \"arguments\": {}}\n</tool_call>\n"
                         "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Oslo\"}}\n</tool_call>"));
  auto named = compile_call_grammar(Format::hermes, grammar_tools(), {"get_weather"}, false);
  EXPECT_FALSE(accepts(named, "<tool_call>\n{\"name\": \"get_time\", \"arguments\": {}}\n</tool_call>"));
  EXPECT_TRUE(accepts(named, "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Oslo\"}}\n</tool_call>"));
}

// For each format: a reply the grammar accepts parses back into the calls.
TEST(CallGrammar, EveryFormatsConstrainedReplyParsesBack) {
  const std::string args = R"({"city": "Oslo", "unit": "celsius"})";
  for (Format f : {Format::hermes, Format::qwen3_coder, Format::llama3, Format::mistral, Format::mistral_args,
                   Format::harmony, Format::deepseek_r1, Format::deepseek_v3_1, Format::gemma4}) {
    SCOPED_TRACE(format_name(f));
    // The shape's own spelling, twice (parallel).
    const auto shape_g = compile_call_grammar(f, grammar_tools(), {}, true);
    std::string reply;
    // Each format's call written out (the same strings docs/tools.md shows).
    std::string one, sep, open, close;
    switch (f) {
      case Format::hermes:
      case Format::qwen3_coder:
        one = "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": " + args + "}\n</tool_call>";
        sep = "\n";
        break;
      case Format::llama3:
        one = "{\"name\": \"get_weather\", \"parameters\": " + args + "}";
        sep = "\n";
        break;
      case Format::mistral:
        open = "[TOOL_CALLS][", close = "]", sep = ", ";
        one = "{\"name\": \"get_weather\", \"arguments\": " + args + "}";
        break;
      case Format::mistral_args:
        one = "[TOOL_CALLS]get_weather[ARGS]" + args;
        break;
      case Format::harmony:
        one = "<|channel|>commentary to=functions.get_weather <|constrain|>json<|message|>" + args + "<|call|>";
        sep = "<|start|>assistant";
        break;
      case Format::deepseek_r1:
        open = "<｜tool▁calls▁begin｜>", close = "<｜tool▁calls▁end｜>", sep = "\n";
        one = "<｜tool▁call▁begin｜>function<｜tool▁sep｜>get_weather\n```json\n" + args + "\n```<｜tool▁call▁end｜>";
        break;
      case Format::deepseek_v3_1:
        open = "<｜tool▁calls▁begin｜>", close = "<｜tool▁calls▁end｜>";
        one = "<｜tool▁call▁begin｜>get_weather<｜tool▁sep｜>" + args + "<｜tool▁call▁end｜>";
        break;
      case Format::gemma4:
        one = "<|tool_call>call:get_weather" + args + "<tool_call|>";
        break;
      default:
        break;
    }
    reply = open + one + sep + one + close;
    EXPECT_TRUE(accepts(shape_g, reply)) << reply;
    EXPECT_FALSE(accepts(compile_call_grammar(f, grammar_tools(), {}, false), reply)) << "one call only";
    Dialect d;
    d.format = f;
    const ParsedReply r = test::parse_every_way(d, grammar_tools(), reply);
    ASSERT_EQ(r.tool_calls.size(), 2u) << test::show(r);
    for (auto& c : r.tool_calls) {
      EXPECT_EQ(c.name, "get_weather");
      EXPECT_EQ(json::parse(c.arguments), json::parse(args));
    }
    EXPECT_EQ(r.content, "");
  }
}

void expect_error(const std::function<void()>& f, const std::string& a, const std::string& b = "") {
  try {
    f();
    ADD_FAILURE() << "no error";
  } catch (const InvalidArgumentError& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find(a), std::string::npos) << msg;
    EXPECT_NE(msg.find(b), std::string::npos) << msg;
  }
}

TEST(CallGrammar, Errors) {
  expect_error([] { compile_call_grammar(Format::none, grammar_tools(), {}, false); }, "no known tool-call format");
  expect_error([] { compile_call_grammar(Format::hermes, grammar_tools(), {"launch"}, false); }, "no tool named 'launch'");
  expect_error([] { compile_call_grammar(Format::hermes, json::array(), {}, false); }, "no tools");
  const json bad = json::parse(R"([{"type": "function", "function": {"name": "f", "parameters":
      {"type": "object", "properties": {"x": {"not": {"type": "string"}}}}}}])");
  expect_error([&] { compile_call_grammar(Format::hermes, bad, {}, false); }, "tool 'f'", "#/properties/x/not");
  expect_error([] { compile_call_grammar_text(R"({"format": "klingon"})"); }, "unknown format 'klingon'", "hermes");
  // Through the generic entry point the engine uses.
  auto g = grammar::compile("tool_calls", json{{"format", "llama3"}, {"tools", grammar_tools()}, {"names", {"get_time"}}}.dump());
  EXPECT_TRUE(accepts(g, "{\"name\": \"get_time\", \"parameters\": {}}"));
}

}  // namespace
}  // namespace allm::tools
