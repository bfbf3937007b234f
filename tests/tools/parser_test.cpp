// Hand-written replies: reasoning, every syntax variant a family writes
// (including those no fixture template renders), and text that only looks
// like a call — which must come back as content, never as a call or a crash.
#include <gtest/gtest.h>

#include "parse_support.hpp"

namespace allm::tools {
namespace {

using nlohmann::json;
using test::parse_every_way;

const json& tools() {
  static const json t = json::parse(R"([
    {"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object",
      "properties": {"city": {"type": "string"}, "days": {"type": "integer"}}, "required": ["city"]}}},
    {"type": "function", "function": {"name": "get_time", "parameters": {"type": "object", "properties": {}}}}])");
  return t;
}

Dialect dialect(Format f, const char* open = "", const char* close = "", bool in_reasoning = false) {
  Dialect d;
  d.format = f;
  d.think_open = open;
  d.think_close = close;
  d.starts_in_reasoning = in_reasoning;
  return d;
}

void expect_call(const ToolCall& c, const std::string& name, const char* args) {
  EXPECT_EQ(c.name, name);
  EXPECT_EQ(json::parse(c.arguments), json::parse(args)) << c.arguments;
}

TEST(Reasoning, ThinkBlockThenCall) {
  auto r = parse_every_way(dialect(Format::hermes, "<think>", "</think>"), tools(),
                           "<think>\nThe user wants Paris.\n</think>\n\n<tool_call>\n{\"name\": \"get_weather\", "
                           "\"arguments\": {\"city\": \"Paris\"}}\n</tool_call>");
  EXPECT_EQ(r.reasoning, "\nThe user wants Paris.\n");
  EXPECT_EQ(r.content, "");
  ASSERT_EQ(r.tool_calls.size(), 1u);
  expect_call(r.tool_calls[0], "get_weather", R"({"city":"Paris"})");
}

TEST(Reasoning, ToolCallTextInsideReasoningIsNotACall) {
  auto r = parse_every_way(dialect(Format::hermes, "<think>", "</think>"), tools(),
                           "<think>I could write <tool_call>{\"name\": \"get_time\", \"arguments\": {}}</tool_call>"
                           "</think>It is late.");
  EXPECT_TRUE(r.tool_calls.empty());
  EXPECT_EQ(r.content, "It is late.");
  EXPECT_NE(r.reasoning.find("<tool_call>"), std::string::npos);
}

TEST(Reasoning, PromptOpenedTheBlock) {
  EXPECT_TRUE(prompt_opens_reasoning(dialect(Format::deepseek_r1, "<think>", "</think>"), "<｜Assistant｜><think>\n"));
  EXPECT_FALSE(prompt_opens_reasoning(dialect(Format::deepseek_r1, "<think>", "</think>"),
                                      "<｜Assistant｜><think>\n\n</think>\n\n"));
  auto r = parse_every_way(dialect(Format::deepseek_r1, "<think>", "</think>", true), tools(),
                           "Paris first.\n</think>\n\n<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>function<｜tool▁sep｜>"
                           "get_weather\n```json\n{\"city\": \"Paris\"}\n```<｜tool▁call▁end｜><｜tool▁calls▁end｜>");
  EXPECT_EQ(r.reasoning, "Paris first.\n");
  ASSERT_EQ(r.tool_calls.size(), 1u);
  expect_call(r.tool_calls[0], "get_weather", R"({"city":"Paris"})");
}

TEST(Reasoning, NoReasoningTagsMeansContent) {
  auto r = parse_every_way(dialect(Format::hermes), tools(), "<think>x</think>y");
  EXPECT_EQ(r.content, "<think>x</think>y");
}

TEST(Harmony, AnalysisThenFinal) {
  Dialect d = detect_dialect("<|channel|> to=functions.");
  ASSERT_EQ(d.format, Format::harmony);
  auto r = parse_every_way(d, tools(),
                           "<|channel|>analysis<|message|>Simple.<|end|><|start|>assistant<|channel|>final<|message|>"
                           "Hello there.<|return|>");
  EXPECT_EQ(r.reasoning, "Simple.");
  EXPECT_EQ(r.content, "Hello there.");
  EXPECT_TRUE(r.tool_calls.empty());
}

TEST(Harmony, CallWithConstrainAndTwoMessages) {
  Dialect d = detect_dialect("<|channel|> to=functions.");
  auto r = parse_every_way(d, tools(),
                           "<|channel|>analysis<|message|>Need both.<|end|><|start|>assistant<|channel|>commentary "
                           "to=functions.get_weather <|constrain|>json<|message|>{\"city\":\"Oslo\"}<|call|>"
                           "<|start|>assistant to=functions.get_time<|channel|>commentary json<|message|>{}");
  EXPECT_EQ(r.reasoning, "Need both.");
  EXPECT_EQ(r.content, "");
  ASSERT_EQ(r.tool_calls.size(), 2u);
  expect_call(r.tool_calls[0], "get_weather", R"({"city":"Oslo"})");
  expect_call(r.tool_calls[1], "get_time", "{}");
}

TEST(Llama3, PythonTagAndPlainJson) {
  auto r = parse_every_way(dialect(Format::llama3), tools(),
                           "<|python_tag|>{\"name\": \"get_time\", \"parameters\": {}}");
  ASSERT_EQ(r.tool_calls.size(), 1u);
  expect_call(r.tool_calls[0], "get_time", "{}");
  r = parse_every_way(dialect(Format::llama3), tools(),
                      " {\"name\": \"get_weather\", \"parameters\": {\"city\": \"Rome\"}}; "
                      "{\"name\": \"get_time\", \"parameters\": {}}");
  ASSERT_EQ(r.tool_calls.size(), 2u);
  expect_call(r.tool_calls[0], "get_weather", R"({"city":"Rome"})");
  EXPECT_EQ(r.content, "");
}

TEST(Llama3, JsonThatIsNotACallIsContent) {
  for (const char* text : {"{\"answer\": 4}", "{\"name\": \"get_time\"}", "{\"name\": \"nope\", \"parameters\": {}}",
                           "{\"name\": \"get_time\", \"parameters\": {", "Use {\"name\": \"get_time\", \"parameters\": {}}"}) {
    auto r = parse_every_way(dialect(Format::llama3), tools(), text);
    EXPECT_TRUE(r.tool_calls.empty()) << text;
    EXPECT_EQ(r.content, text);
  }
}

TEST(Mistral, ListWithIdsAndArgsForm) {
  auto r = parse_every_way(dialect(Format::mistral), tools(),
                           "[TOOL_CALLS] [{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Nice\"}, \"id\": "
                           "\"abcDEF123\"}, {\"name\": \"get_time\", \"arguments\": \"{}\"}]");
  ASSERT_EQ(r.tool_calls.size(), 2u);
  expect_call(r.tool_calls[0], "get_weather", R"({"city":"Nice"})");
  expect_call(r.tool_calls[1], "get_time", "{}");
  r = parse_every_way(dialect(Format::mistral_args), tools(),
                      "Sure.[TOOL_CALLS]get_weather[CALL_ID]abcDEF123[ARGS]{\"city\": \"Nice\", \"days\": 2}");
  EXPECT_EQ(r.content, "Sure.");
  ASSERT_EQ(r.tool_calls.size(), 1u);
  expect_call(r.tool_calls[0], "get_weather", R"({"city":"Nice","days":2})");
}

TEST(Qwen3Coder, ValuesTypedBySchema) {
  auto r = parse_every_way(dialect(Format::qwen3_coder), tools(),
                           "<tool_call>\n<function=get_weather>\n<parameter=city>\n42\n</parameter>\n"
                           "<parameter=days>\n3\n</parameter>\n</function>\n</tool_call>");
  ASSERT_EQ(r.tool_calls.size(), 1u);
  expect_call(r.tool_calls[0], "get_weather", R"({"city":"42","days":3})");
}

TEST(DeepSeek, V31Block) {
  auto r = parse_every_way(dialect(Format::deepseek_v3_1), tools(),
                           "On it.<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>get_time<｜tool▁sep｜>{}<｜tool▁call▁end｜>"
                           "<｜tool▁calls▁end｜>");
  EXPECT_EQ(r.content, "On it.");
  ASSERT_EQ(r.tool_calls.size(), 1u);
  expect_call(r.tool_calls[0], "get_time", "{}");
}

TEST(Gemma4, TemplateNotationNestedValues) {
  auto r = parse_every_way(dialect(Format::gemma4), tools(),
                           "<|tool_call>call:get_weather{city:<|\"|>Nice, \"FR\"<|\"|>,days:2,opts:{deep:[true,None,-1.5]}}"
                           "<tool_call|>");
  ASSERT_EQ(r.tool_calls.size(), 1u);
  expect_call(r.tool_calls[0], "get_weather", R"({"city":"Nice, \"FR\"","days":2,"opts":{"deep":[true,null,-1.5]}})");
  for (const char* text : {"<|tool_call>call:get_weather{city:Paris}<tool_call|>", "<|tool_call>call:get_weather{city:",
                           "<|tool_call>call:get_weather[1]<tool_call|>"}) {
    auto bad = parse_every_way(dialect(Format::gemma4), tools(), text);
    EXPECT_TRUE(bad.tool_calls.empty()) << text;
    EXPECT_EQ(bad.content, text);
  }
}

TEST(Malformed, ComesBackAsContent) {
  const char* cases[] = {
      "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": }\n</tool_call>",
      "<tool_call>\n{\"name\": \"unknown_tool\", \"arguments\": {}}\n</tool_call>",
      "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Pa",
      "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": [1]}\n</tool_call>",
      "<tool_call>\n{\"nome\": \"get_weather\"}</tool_call>",
      "<tool_call></tool_call>",
      "a < b, <tool and <tool_call",
      "}}]]\"\\",
  };
  for (const char* text : cases) {
    auto r = parse_every_way(dialect(Format::hermes, "<think>", "</think>"), tools(), text);
    EXPECT_TRUE(r.tool_calls.empty()) << text;
    EXPECT_EQ(r.content, text);
  }
}

TEST(Malformed, ValidCallAfterABrokenOne) {
  auto r = parse_every_way(dialect(Format::hermes), tools(),
                           "<tool_call>{oops</tool_call> then <tool_call>{\"name\": \"get_time\", \"arguments\": {}}"
                           "</tool_call> done");
  ASSERT_EQ(r.tool_calls.size(), 1u);
  expect_call(r.tool_calls[0], "get_time", "{}");
  EXPECT_EQ(r.content, "<tool_call>{oops</tool_call> then done");  // blanks right after a call are dropped
}

TEST(Content, NonAsciiAroundCallsStaysWhole) {
  auto r = parse_every_way(dialect(Format::deepseek_v3_1), tools(),
                           "Température ≈ 21 °C — 東京<｜tool▁call▁begin｜>get_time<｜tool▁sep｜>{\"tz\": \"日本\"}"
                           "<｜tool▁call▁end｜>");
  EXPECT_EQ(r.content, "Température ≈ 21 °C — 東京");
  ASSERT_EQ(r.tool_calls.size(), 1u);
}

TEST(Detect, FormatNamesRoundTrip) {
  for (const char* n : {"none", "hermes", "qwen3_coder", "llama3", "mistral", "mistral_args", "harmony", "deepseek_r1",
                        "deepseek_v3_1", "gemma4"}) {
    auto f = format_from_name(n);
    ASSERT_TRUE(f) << n;
    EXPECT_EQ(std::string(format_name(*f)), n);
  }
  EXPECT_FALSE(format_from_name("gorilla"));
  EXPECT_EQ(detect_dialect("{{ messages }}").format, Format::none);
}

}  // namespace
}  // namespace allm::tools
