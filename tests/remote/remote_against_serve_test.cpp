// Each remote provider against `allm serve`'s matching routes (OpenAI
// /v1/chat/completions, Anthropic /v1/messages, Ollama /api/chat) with the
// shipped tiny model: greedy decoding makes every form of the call (blocking,
// callback, pulled Stream, async future) produce the same text.
#include <gtest/gtest.h>

#include <memory>

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

INSTANTIATE_TEST_SUITE_P(Apis, RemoteAgainstServe, ::testing::Values("openai", "anthropic", "ollama"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace allm::test
