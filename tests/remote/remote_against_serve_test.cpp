// Each remote provider against `allm serve`'s matching routes (OpenAI
// /v1/chat/completions, Anthropic /v1/messages, Ollama /api/chat) with the
// shipped tiny model: greedy decoding makes every form of the call (blocking,
// callback, pulled Stream, async future) produce the same text.
#include <gtest/gtest.h>

#include <filesystem>
#include <memory>

#include <unistd.h>

#include "allm/error.hpp"
#include "allm/provider/session.hpp"
#include "remote_test_util.hpp"
#include "server_process.hpp"

namespace allm::test {
namespace {

class RemoteAgainstServe : public ::testing::TestWithParam<std::string> {
 protected:
  // Started by the first test of the process; a failure to start fails the test.
  void SetUp() override {
    if (server_) return;
    server_ = std::make_unique<ServerProcess>(
        std::vector<std::string>{ALLM_BIN, "serve", ALLM_TINY_MODEL, "--port", "0", "--threads", "1"}, 2,
        "allm serve: listening on (http://\\S+)\n");
    const auto models = http_get_json(server_->where() + "/v1/models");
    model_ = models["data"][0]["id"].get<std::string>();
  }
  static void TearDownTestSuite() { server_.reset(); }

  std::shared_ptr<Provider> provider() {
    return make_remote(GetParam(), {{"base_url", base_url_for(GetParam(), server_->where())}, {"model", model_}});
  }
  static GenerateRequest greedy(int max_tokens) {
    GenerateRequest r;
    r.prompt = "Once upon a time";
    r.system_prompt = "You tell short stories.";
    r.params.temperature = 0;
    r.params.max_tokens = max_tokens;
    return r;
  }

  static inline std::unique_ptr<ServerProcess> server_;
  static inline std::string model_;
};

TEST_P(RemoteAgainstServe, BlockingReplyWithUsage) {
  auto r = provider()->generate(greedy(12));
  EXPECT_FALSE(r.text.empty());
  EXPECT_TRUE(r.finish_reason == "stop" || r.finish_reason == "length") << r.finish_reason;
  EXPECT_GT(r.usage.prompt_tokens, 5);  // the system prompt and the prompt went through the template
  EXPECT_GT(r.usage.completion_tokens, 0);
  EXPECT_LE(r.usage.completion_tokens, 12);
  EXPECT_EQ(r.usage.total_tokens, r.usage.prompt_tokens + r.usage.completion_tokens);
  EXPECT_EQ(r.model, model_);
}

TEST_P(RemoteAgainstServe, EveryFormGivesTheSameGreedyText) {
  auto p = provider();
  const auto blocking = p->generate(greedy(16));
  std::string streamed;
  int pieces = 0;
  const auto cb = p->generate(greedy(16), [&](const StreamDelta& d) { streamed += d.text, ++pieces; });
  EXPECT_EQ(streamed, cb.text);
  EXPECT_EQ(cb.text, blocking.text);
  EXPECT_GT(pieces, 1);  // parsed incrementally, not one piece at the end
  Stream s = p->stream(greedy(16));
  std::string pulled;
  while (auto d = s.next()) pulled += d->text;
  EXPECT_EQ(pulled, blocking.text);
  EXPECT_EQ(s.response().text, blocking.text);
  EXPECT_EQ(p->generate_async(greedy(16)).get().text, blocking.text);
}

// A repeated prompt is partly served from the server's prompt cache; the usage
// still counts the whole prompt (Anthropic splits it into input and cache reads).
TEST_P(RemoteAgainstServe, UsageCountsTheWholePromptWhenCached) {
  auto p = provider();
  const auto first = p->generate(greedy(4));
  const auto again = p->generate(greedy(4));
  EXPECT_EQ(again.usage.prompt_tokens, first.usage.prompt_tokens);
}

TEST_P(RemoteAgainstServe, CancelAfterTheFirstPiece) {
  CancellationToken cancel;
  std::string first;
  auto r = provider()->generate(
      greedy(200),
      [&](const StreamDelta& d) {
        if (first.empty()) first = d.text;
        cancel.cancel();
      },
      cancel);
  EXPECT_EQ(r.finish_reason, "cancelled");
  EXPECT_EQ(r.text, first);
}

TEST_P(RemoteAgainstServe, SessionSendsTheHistory) {
  ChatSession chat(provider(), SessionOptions{std::string("Be brief."), {}, TruncationPolicy::error});
  auto first = chat.send("Hello");
  auto second = chat.send("And again");
  // The second request carried the first turn and its reply: more prompt tokens.
  EXPECT_GT(second.usage.prompt_tokens, first.usage.prompt_tokens + first.usage.completion_tokens);
  EXPECT_EQ(chat.history().size(), 4u);
}

TEST_P(RemoteAgainstServe, UnknownModelIsAModelError) {
  auto p = make_remote(GetParam(), {{"base_url", base_url_for(GetParam(), server_->where())}, {"model", "no-such-model"}});
  try {
    p->generate(greedy(4));
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("no-such-model"), std::string::npos) << e.what();
  }
}

// A JSON Schema goes to the remote API as its own constrained-output field
// (OpenAI response_format json_schema, Ollama format): allm serve's reply then
// holds to it. Anthropic has no such field: refused, never sent unconstrained.
TEST_P(RemoteAgainstServe, JsonSchemaIsForwardedOrRefused) {
  GenerateRequest r = greedy(60);
  r.params.temperature = 1;
  r.params.seed = 5;
  r.grammar = OutputGrammar{"json_schema",
                            R"({"type":"object","properties":{"answer":{"enum":["yes","no"]},"n":{"type":"integer","minimum":3,"maximum":9}},)"
                            R"("required":["answer","n"],"additionalProperties":false})"};
  if (GetParam() == "anthropic") {
    EXPECT_THROW(provider()->generate(r), UnsupportedError);
    return;
  }
  const auto reply = provider()->generate(r);
  const auto j = nlohmann::json::parse(reply.text, nullptr, false);
  ASSERT_TRUE(j.is_object()) << reply.text;
  EXPECT_EQ(j.size(), 2u) << reply.text;
  EXPECT_TRUE(j["answer"] == "yes" || j["answer"] == "no") << reply.text;
  ASSERT_TRUE(j["n"].is_number_integer()) << reply.text;
  EXPECT_GE(j["n"].get<int>(), 3);
  EXPECT_LE(j["n"].get<int>(), 9);
  // A GBNF grammar has no field in these APIs: refused.
  r.grammar = OutputGrammar{"gbnf", "root ::= \"yes\""};
  EXPECT_THROW(provider()->generate(r), UnsupportedError);
}


// ---------------------------------------------------------------- tool calls

// A tool whose arguments the test can check against its schema by hand.
const nlohmann::json kWeatherTool = nlohmann::json::parse(R"({"type": "function", "function": {
  "name": "get_weather", "description": "Weather for a city",
  "parameters": {"type": "object", "properties": {"city": {"enum": ["Paris", "Oslo", "Lima"]},
                 "days": {"type": "integer", "minimum": 1, "maximum": 7}},
                 "required": ["city", "days"], "additionalProperties": false}}})");

// The checks of kWeatherTool's parameters schema; empty when `args` is valid.
std::string weather_args_problem(const nlohmann::json& args) {
  if (!args.is_object()) return "not an object";
  if (args.size() != 2 || !args.contains("city") || !args.contains("days")) return "keys differ from city, days";
  if (args["city"] != "Paris" && args["city"] != "Oslo" && args["city"] != "Lima") return "city not in the enum";
  if (!args["days"].is_number_integer()) return "days not an integer";
  const int days = args["days"].get<int>();
  if (days < 1 || days > 7) return "days out of 1..7";
  return "";
}

// `whole`: the reply is nothing but complete calls (one forced call; a reply
// of parallel calls may end at max_tokens inside one more, left as text, and
// then ends "length": that call had started streaming).
void expect_weather_calls(const GenerateResponse& r, bool whole = true) {
  ASSERT_FALSE(r.tool_calls.empty()) << r.to_json().dump();
  if (whole || r.finish_reason != finish_reason::length) {
    EXPECT_EQ(r.finish_reason, finish_reason::tool_calls);
  }
  for (const auto& c : r.tool_calls) {
    EXPECT_EQ(c["type"], "function");
    EXPECT_TRUE(c["id"].is_string() && !c["id"].get<std::string>().empty()) << c.dump();
    EXPECT_EQ(c["function"]["name"], "get_weather");
    EXPECT_EQ(weather_args_problem(c["function"]["arguments"]), "") << c.dump();
  }
  // The call is data, not text in the model's own call syntax.
  if (whole) {
    EXPECT_EQ(r.text.find("<tool_call>"), std::string::npos) << r.text;
  }
}

GenerateRequest forced_call(int64_t seed) {
  GenerateRequest r;
  r.messages = {{"user", "What is the weather in Paris for the next two days?"}};
  r.tools = nlohmann::json::array({kWeatherTool});
  r.tool_choice = {{"type", "function"}, {"function", {{"name", "get_weather"}}}};
  r.params.temperature = 1;
  r.params.seed = seed;
  r.params.max_tokens = 300;
  return r;
}

// allm serve with the shipped model under Qwen2.5's chat template (hermes
// tool calls), so that it can be forced to call a tool and renders earlier
// calls and results.
class RemoteToolsAgainstServe : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (server_) return;
    namespace fs = std::filesystem;
    dir_ = fs::temp_directory_path() / ("allm-remote-tools-" + std::to_string(::getpid()));
    fs::create_directories(dir_);
    for (const auto& f : fs::directory_iterator(ALLM_TINY_MODEL))
      if (f.path().filename() != "chat_template.jinja") fs::create_symlink(f.path(), dir_ / f.path().filename());
    fs::copy_file(ALLM_QWEN25_TEMPLATE, dir_ / "chat_template.jinja");
    server_ = std::make_unique<ServerProcess>(
        std::vector<std::string>{ALLM_BIN, "serve", dir_.string(), "--port", "0", "--threads", "1"}, 2,
        "allm serve: listening on (http://\\S+)\n");
    model_ = http_get_json(server_->where() + "/v1/models")["data"][0]["id"].get<std::string>();
  }
  static void TearDownTestSuite() {
    server_.reset();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  std::shared_ptr<Provider> provider() {
    return make_remote(GetParam(), {{"base_url", base_url_for(GetParam(), server_->where())}, {"model", model_}});
  }

  static inline std::unique_ptr<ServerProcess> server_;
  static inline std::string model_;
  static inline std::filesystem::path dir_;
};

// allm serve forces the call (tool_choice named / Anthropic "tool"); the
// provider returns it as data — blocking, through a callback and pulled.
TEST_P(RemoteToolsAgainstServe, ForcedToolCallComesBackAsData) {
  if (GetParam() == "ollama") {  // Ollama's API has no tool_choice: refused, never dropped
    EXPECT_THROW(provider()->generate(forced_call(1)), UnsupportedError);
    return;
  }
  auto p = provider();
  for (int64_t seed : {1, 2, 3}) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    const auto blocking = p->generate(forced_call(seed));
    expect_weather_calls(blocking);
    std::string streamed;
    const auto cb = p->generate(forced_call(seed), [&](const StreamDelta& d) { streamed += d.text; });
    expect_weather_calls(cb);
    EXPECT_EQ(streamed, cb.text);
    // The same seed gives the same calls (the ids are the server's, fresh each
    // time); Anthropic's API has no seed.
    if (GetParam() == "anthropic") continue;
    ASSERT_EQ(cb.tool_calls.size(), blocking.tool_calls.size());
    for (size_t i = 0; i < cb.tool_calls.size(); ++i)
      EXPECT_EQ(cb.tool_calls[i]["function"], blocking.tool_calls[i]["function"]);
  }
  Stream s = p->stream(forced_call(4));
  while (s.next()) {
  }
  expect_weather_calls(s.response());
}

// "required" forces some call of the tools offered.
TEST_P(RemoteToolsAgainstServe, RequiredToolChoiceIsForwarded) {
  if (GetParam() == "ollama") return;  // no tool_choice (ForcedToolCallComesBackAsData)
  GenerateRequest r = forced_call(7);
  r.tool_choice = "required";
  expect_weather_calls(provider()->generate(r), false);
  // "none": the tools are not offered; a plain reply.
  r.tool_choice = "none";
  r.params.max_tokens = 8;
  const auto plain = provider()->generate(r);
  EXPECT_TRUE(plain.tool_calls.empty());
  EXPECT_NE(plain.finish_reason, finish_reason::tool_calls);
}

// An earlier call and its result go back in each API's own shape (OpenAI
// tool_calls + role tool, Anthropic tool_use + tool_result blocks, Ollama
// tool_calls + role tool): allm serve renders both into the prompt, so
// changing either changes the prompt's length.
TEST_P(RemoteToolsAgainstServe, ToolCallAndResultGoBackInTheHistory) {
  auto history = [](const std::string& city, const std::string& result) {
    GenerateRequest r;
    Message call("assistant", "");
    call.tool_calls = nlohmann::json::array(
        {{{"id", "call_7"}, {"type", "function"},
          {"function", {{"name", "get_weather"}, {"arguments", {{"city", city}, {"days", 2}}}}}}});
    Message answer("tool", result);
    answer.tool_call_id = "call_7";
    answer.name = "get_weather";
    r.messages = {{"user", "What is the weather in Paris?"}, call, answer};
    r.tools = nlohmann::json::array({kWeatherTool});
    r.params.temperature = 0;
    r.params.max_tokens = 4;
    return r;
  };
  auto p = provider();
  const auto base = p->generate(history("Oslo", R"({"temp": 21})"));
  EXPECT_FALSE(base.finish_reason.empty());
  const auto longer_result =
      p->generate(history("Oslo", R"({"temp": 21, "sky": "clear with a light breeze from the north west"})"));
  EXPECT_GT(longer_result.usage.prompt_tokens, base.usage.prompt_tokens + 5);
  const auto longer_args = p->generate(history("Oslo, Akershus county, Norway, Scandinavia", R"({"temp": 21})"));
  EXPECT_GT(longer_args.usage.prompt_tokens, base.usage.prompt_tokens + 3);
}

INSTANTIATE_TEST_SUITE_P(Apis, RemoteAgainstServe, ::testing::Values("openai", "anthropic", "ollama"),
                         [](const auto& info) { return info.param; });
INSTANTIATE_TEST_SUITE_P(Apis, RemoteToolsAgainstServe, ::testing::Values("openai", "anthropic", "ollama"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace allm::test
