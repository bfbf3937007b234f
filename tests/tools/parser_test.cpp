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

// Streamed calls (CallEvents::streamed): each family's call is named as soon
// as its name is read — not a byte before — and its arguments come in pieces
// that add up to the arguments of the whole parse (parse_every_way checks the
// sums at every split).
struct StreamCase {
  Format format;
  const char* named;  // the reply up to the end of the call's name
  const char* rest;
  const char* arguments;  // the whole call's arguments
};

std::vector<ReplyEvent> feed_all(ReplyParser& p, std::string_view text) {
  std::vector<ReplyEvent> out;
  for (char c : text)
    for (auto& e : p.feed(std::string(1, c))) out.push_back(std::move(e));
  return out;
}

size_t count(const std::vector<ReplyEvent>& events, ReplyEvent::Kind kind) {
  size_t n = 0;
  for (auto& e : events) n += e.kind == kind;
  return n;
}

TEST(Streamed, EachFormatNamesTheCallAtOnceAndSendsArgumentsInPieces) {
  const StreamCase cases[] = {
      {Format::hermes, "Sure.\n<tool_call>\n{\"name\": \"get_weather\"",
       ", \"arguments\": {\"city\": \"Paris \\\"16e\\\" \u00e9\\u00e9\\ud83d\\ude00\", \"days\": 3.50e1}}\n</tool_call>",
       R"({"city":"Paris \"16e\" éé😀","days":35.0})"},
      {Format::hermes, "<tool_call>{\"name\": \"get_weather\"", ", \"arguments\": \"{\\\"city\\\": \\\"Oslo\\\"}\"}</tool_call>",
       R"({"city": "Oslo"})"},
      {Format::qwen3_coder, "<tool_call>\n<function=get_weather>",
       "\n<parameter=city>\nLa Paz\n</parameter>\n<parameter=days>\n2\n</parameter>\n</function>\n</tool_call>",
       R"({"city":"La Paz","days":2})"},
      {Format::llama3, "<|python_tag|>{\"name\": \"get_weather\"", ", \"parameters\": {\"city\": \"Rome\", \"days\": [1, 2]}}",
       R"({"city":"Rome","days":[1,2]})"},
      {Format::mistral, "[TOOL_CALLS][{\"name\": \"get_weather\"", ", \"arguments\": {\"city\": \"Nice\"}, \"id\": \"abcDEF123\"}]",
       R"({"city":"Nice"})"},
      {Format::mistral_args, "[TOOL_CALLS]get_weather[CALL_ID]", "abcDEF123[ARGS]{\"city\": \"Nice\",  \"days\": 2}",
       R"({"city": "Nice",  "days": 2})"},
      {Format::harmony, "<|channel|>commentary to=functions.get_weather ",
       "<|constrain|>json<|message|>{\"city\": \"Oslo\", \"days\": 4}<|call|>", R"({"city": "Oslo", "days": 4})"},
      {Format::deepseek_r1, "<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>function<｜tool▁sep｜>get_weather\n",
       "```json\n{\"city\": \"東京\"}\n```<｜tool▁call▁end｜><｜tool▁calls▁end｜>", R"({"city": "東京"})"},
      {Format::deepseek_v3_1, "<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>get_weather<｜tool▁sep｜>",
       "{\"city\": \"Lima\"}<｜tool▁call▁end｜><｜tool▁calls▁end｜>", R"({"city": "Lima"})"},
      {Format::gemma4, "<|tool_call>call:get_weather{", "city:<|\"|>Nice<|\"|>,days:2}<tool_call|>",
       R"({"city":"Nice","days":2})"},
  };
  for (const auto& c : cases) {
    const std::string named = c.named, text = named + c.rest;
    SCOPED_TRACE(std::string(format_name(c.format)) + ": " + text);
    ReplyParser p(dialect(c.format), tools(), CallEvents::streamed);
    auto before = feed_all(p, named.substr(0, named.size() - 1));
    EXPECT_EQ(count(before, ReplyEvent::call_start), 0u) << "named before the name was read";
    auto at = p.feed(named.substr(named.size() - 1));
    ASSERT_EQ(count(at, ReplyEvent::call_start), 1u) << "not named once the name was read";
    for (auto& e : at) {
      if (e.kind == ReplyEvent::call_start) {
        EXPECT_EQ(e.tool_call.name, "get_weather");
      }
    }
    auto events = feed_all(p, c.rest);
    events.insert(events.begin(), at.begin(), at.end());
    for (auto& e : p.finish()) events.push_back(std::move(e));
    std::string args;
    for (auto& e : events)
      if (e.kind == ReplyEvent::call_arguments) args += e.text;
    EXPECT_GT(count(events, ReplyEvent::call_arguments), 1u) << "arguments in one piece";
    ASSERT_EQ(count(events, ReplyEvent::call), 1u);
    EXPECT_EQ(args, c.arguments);
    test::StreamedCalls streamed;
    auto r = parse_every_way(dialect(c.format), tools(), text, &streamed);
    ASSERT_EQ(r.tool_calls.size(), 1u);
    EXPECT_EQ(r.tool_calls[0].arguments, c.arguments);
  }
}

TEST(Streamed, SeveralCallsOfOneRegionInTurn) {
  test::StreamedCalls streamed;
  auto r = parse_every_way(dialect(Format::llama3), tools(),
                           "{\"name\": \"get_weather\", \"parameters\": {\"city\": \"Rome\"}}; "
                           "{\"name\": \"get_time\", \"parameters\": {}}",
                           &streamed);
  ASSERT_EQ(r.tool_calls.size(), 2u);
  EXPECT_EQ(streamed.started, 2u);
  EXPECT_EQ(streamed.abandoned, 0u);
  r = parse_every_way(dialect(Format::mistral), tools(),
                      "[TOOL_CALLS][{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Nice\"}}, "
                      "{\"name\": \"get_time\", \"arguments\": {}}]",
                      &streamed);
  ASSERT_EQ(r.tool_calls.size(), 2u);
}

// A name repeated in an object keeps its first value (the streamed one), in
// whole parses too; arguments kept as written keep their text.
TEST(Streamed, RepeatedNamesKeepTheFirstValue) {
  auto r = parse_every_way(dialect(Format::hermes), tools(),
                           "<tool_call>{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Nice\", \"x\": {\"a\": 1, "
                           "\"a\": 2}, \"city\": \"Paris\"}, \"name\": \"get_time\"}</tool_call>");
  ASSERT_EQ(r.tool_calls.size(), 1u);
  EXPECT_EQ(r.tool_calls[0].name, "get_weather");
  EXPECT_EQ(r.tool_calls[0].arguments, R"({"city":"Nice","x":{"a":1}})");
  r = parse_every_way(dialect(Format::qwen3_coder), tools(),
                      "<tool_call>\n<function=get_weather>\n<parameter=city>\nNice\n</parameter>\n<parameter=city>\n"
                      "Paris\n</parameter>\n</function>\n</tool_call>");
  ASSERT_EQ(r.tool_calls.size(), 1u);
  EXPECT_EQ(r.tool_calls[0].arguments, R"({"city":"Nice"})");
  r = parse_every_way(dialect(Format::gemma4), tools(), "<|tool_call>call:get_weather{city:<|\"|>Nice<|\"|>,city:3}<tool_call|>");
  ASSERT_EQ(r.tool_calls.size(), 1u);
  EXPECT_EQ(r.tool_calls[0].arguments, R"({"city":"Nice"})");
}

// A started call that turns out malformed, or that the reply leaves
// unfinished, is abandoned: what was sent of it stays a valid start of a JSON
// object, and its text comes back as content (as the whole parse gives it).
TEST(Streamed, MalformedOrUnfinishedCallsAreAbandoned) {
  const char* cases[] = {
      "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Pa",
      "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": }}\n</tool_call> after",
      "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"days\": 1x}}</tool_call>",
      "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"\\ud800x\"}}</tool_call>",
      "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": \"{\\\"days\\\": 1x}\"}</tool_call>",
  };
  for (const char* text : cases) {
    SCOPED_TRACE(text);
    test::StreamedCalls streamed;
    auto r = parse_every_way(dialect(Format::hermes), tools(), text, &streamed);
    EXPECT_TRUE(r.tool_calls.empty());
    EXPECT_EQ(r.content, text);
    EXPECT_EQ(streamed.started, 1u);
    EXPECT_EQ(streamed.abandoned, 1u);
    ReplyParser p(dialect(Format::hermes), tools(), CallEvents::streamed);
    auto events = feed_all(p, text);
    for (auto& e : p.finish()) events.push_back(std::move(e));
    std::string sent;
    for (auto& e : events)
      if (e.kind == ReplyEvent::call_arguments) sent += e.text;
    // Never past the first malformed byte: closing what was sent gives JSON.
    bool closes = false;
    for (const char* closing : {"\"}", "null}", "}"}) closes = closes || json::accept(sent + closing);
    EXPECT_TRUE(closes) << "sent text is not the start of a JSON object: " << sent;
  }
  // Several calls of one region: all are abandoned when the region is not calls.
  test::StreamedCalls streamed;
  auto r = parse_every_way(dialect(Format::llama3), tools(),
                           "{\"name\": \"get_weather\", \"parameters\": {\"city\": \"Rome\"}}; "
                           "{\"name\": \"get_time\", \"parameters\": {",
                           &streamed);
  EXPECT_TRUE(r.tool_calls.empty());
  EXPECT_EQ(streamed.started, 2u);
  EXPECT_EQ(streamed.abandoned, 2u);
}

}  // namespace
}  // namespace allm::tools
