// Each remote provider against fake_api.py, a loopback server that fails on
// purpose: retry after 429 (honouring Retry-After), 401 and 503 reported with
// the server's message, a stream cut mid-way, a deadline, cancellation that
// closes the connection, and nothing listening at all.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <thread>

#include "allm/error.hpp"
#include "remote_test_util.hpp"
#include "server_process.hpp"

namespace allm::test {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

class RemoteFailures : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (server_) return;
    server_ = std::make_unique<ServerProcess>(std::vector<std::string>{ALLM_PYTHON3, ALLM_FAKE_API}, 1, "PORT (\\d+)\n");
    root_ = "http://127.0.0.1:" + server_->where();
  }
  static void TearDownTestSuite() { server_.reset(); }

  std::shared_ptr<Provider> provider(const std::string& behaviour, nlohmann::json options = nlohmann::json::object()) {
    options["base_url"] = base_url_for(GetParam(), root_ + "/" + behaviour);
    options["model"] = "test-model";
    return make_remote(GetParam(), options);
  }
  nlohmann::json counts() { return http_get_json(root_ + "/count"); }

  static GenerateRequest hello() {
    GenerateRequest r;
    r.prompt = "Say hello";
    return r;
  }

  static inline std::unique_ptr<ServerProcess> server_;
  static inline std::string root_;
};

// Calls streamed in pieces (OpenAI's arguments text cut mid-token, Anthropic's
// input_json_delta, Ollama's whole calls) come back whole and parsed, with the
// reasoning; arguments that are not JSON are an error, never passed on.
TEST_P(RemoteFailures, StreamedToolCallsAreAssembled) {
  GenerateRequest r = hello();
  r.tools = nlohmann::json::parse(
      R"([{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}])");
  const auto reply = provider("tools")->generate(r);
  ASSERT_EQ(reply.tool_calls.size(), 2u) << reply.to_json().dump();
  EXPECT_EQ(reply.tool_calls[0]["function"]["name"], "get_weather");
  EXPECT_EQ(reply.tool_calls[0]["function"]["arguments"], nlohmann::json::parse(R"({"city": "Paris", "days": 2})"));
  EXPECT_EQ(reply.tool_calls[1]["function"]["arguments"], nlohmann::json::parse(R"({"city": "Oslo", "days": 5})"));
  EXPECT_NE(reply.tool_calls[0]["id"], reply.tool_calls[1]["id"]);
  EXPECT_EQ(reply.reasoning, "Let me look.");
  EXPECT_EQ(reply.text, "");
  EXPECT_EQ(reply.finish_reason, finish_reason::tool_calls);
  try {
    provider("badtool")->generate(r);
    FAIL() << "no error";
  } catch (const IoError& e) {
    EXPECT_NE(std::string(e.what()).find("get_weather"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("not a JSON object"), std::string::npos) << e.what();
  }
}

TEST_P(RemoteFailures, StreamsEveryPieceWithUsageAndTimings) {
  std::vector<std::string> deltas;
  auto r = provider("ok")->generate(hello(), [&](const StreamDelta& d) { deltas.push_back(d.text); });
  EXPECT_EQ(deltas, (std::vector<std::string>{"Hello", ", world", "!"}));
  EXPECT_EQ(r.text, "Hello, world!");
  EXPECT_EQ(r.finish_reason, "stop");
  EXPECT_EQ(r.usage.prompt_tokens, 7);
  EXPECT_EQ(r.usage.completion_tokens, 3);
  EXPECT_EQ(r.usage.total_tokens, 10);
  EXPECT_EQ(r.model, "test-model");
  EXPECT_GT(r.timings.prompt_ms, 0);
}

TEST_P(RemoteFailures, RetriesAfter429HonouringRetryAfter) {
  const auto t0 = Clock::now();
  auto r = provider("retry")->generate(hello());
  EXPECT_EQ(r.text, "Hello, world!");
  EXPECT_GE(seconds_since(t0), 0.9);  // Retry-After: 1, not the 0.5 s default backoff
  EXPECT_EQ(counts().value("retry", 0), 2);
}

TEST_P(RemoteFailures, RetriesAfterAConnectionReset) {
  auto r = provider("reset")->generate(hello());
  EXPECT_EQ(r.text, "Hello, world!");
  EXPECT_EQ(counts().value("reset", 0), 2);
  try {
    provider("hangup", {{"max_retries", 1}})->generate(hello());
    FAIL() << "no error";
  } catch (const IoError& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("connection closed without a response: " + root_ + "/hangup/"), std::string::npos) << m;
    EXPECT_NE(m.find("after 2 attempts"), std::string::npos) << m;
  }
  EXPECT_EQ(counts().value("hangup", 0), 2);
}

TEST_P(RemoteFailures, Reports401WithTheServersMessage) {
  try {
    provider("unauth")->generate(hello());
    FAIL() << "no error";
  } catch (const ConfigError& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find(GetParam() + ": "), std::string::npos) << m;
    EXPECT_NE(m.find("401: invalid api key"), std::string::npos) << m;
    EXPECT_NE(m.find(root_ + "/unauth/"), std::string::npos) << m;
    EXPECT_EQ(m.find("test-key"), std::string::npos) << "the key must not appear: " << m;
  }
  EXPECT_EQ(counts().value("unauth", 0), 1);  // a wrong key is not retried
}

TEST_P(RemoteFailures, GivesUpOn503AfterMaxRetries) {
  try {
    provider("unavailable", {{"max_retries", 1}})->generate(hello());
    FAIL() << "no error";
  } catch (const IoError& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("503: overloaded"), std::string::npos) << m;
    EXPECT_NE(m.find("after 2 attempts"), std::string::npos) << m;
  }
  EXPECT_EQ(counts().value("unavailable", 0), 2);
}

TEST_P(RemoteFailures, CutStreamEndsWithAnErrorAfterTheTextSoFar) {
  std::string got;
  try {
    provider("cut")->generate(hello(), [&](const StreamDelta& d) { got += d.text; });
    FAIL() << "no error";
  } catch (const IoError& e) {
    EXPECT_NE(std::string(e.what()).find("ended before the reply was complete"), std::string::npos) << e.what();
  }
  EXPECT_EQ(got, "Hello, world");
  // The pulled form hands out the same text, then rethrows.
  Stream s = provider("cut")->stream(hello());
  std::string pulled;
  EXPECT_THROW(
      {
        while (auto d = s.next()) pulled += d->text;
      },
      IoError);
  EXPECT_EQ(pulled, "Hello, world");
}

TEST_P(RemoteFailures, SlowAnswerPastTheDeadline) {
  const auto t0 = Clock::now();
  try {
    provider("slow", {{"timeout_s", 1}})->generate(hello());
    FAIL() << "no error";
  } catch (const IoError& e) {
    EXPECT_NE(std::string(e.what()).find("deadline of 1"), std::string::npos) << e.what();
  }
  EXPECT_LT(seconds_since(t0), 3.0);
}

TEST_P(RemoteFailures, CancelReturnsTheTextSoFarAndClosesTheConnection) {
  CancellationToken cancel;
  int n = 0;
  const auto t0 = Clock::now();
  auto r = provider("drip")->generate(
      hello(), [&](const StreamDelta&) { if (++n == 2) cancel.cancel(); }, cancel);
  EXPECT_EQ(r.finish_reason, "cancelled");
  EXPECT_EQ(r.text, "tick tick ");
  EXPECT_LT(seconds_since(t0), 2.0);  // the whole drip would take 20 s
  // The server notices the closed connection at its next write.
  for (int i = 0; i < 50 && counts().value("drip_closed", 0) == 0; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_EQ(counts().value("drip_closed", 0), 1);
}

TEST_P(RemoteFailures, AsyncAndCancelFromAnotherThread) {
  auto p = provider("drip");
  CancellationToken cancel;
  std::atomic<int> pieces{0};
  auto fut = p->generate_async(hello(), cancel, [&](const StreamDelta&) { ++pieces; });
  for (int i = 0; i < 500 && pieces == 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  ASSERT_GT(pieces, 0);
  cancel.cancel();
  const auto t0 = Clock::now();
  auto r = fut.get();
  EXPECT_LT(seconds_since(t0), 0.5);  // noticed within the 50 ms poll, not at the next piece
  EXPECT_EQ(r.finish_reason, "cancelled");
  EXPECT_EQ(r.text.rfind("tick ", 0), 0u) << r.text;
}

TEST_P(RemoteFailures, ConnectionRefusedNamesTheUrl) {
  remote::RemoteProviderFactory factory(dialect_named(GetParam()));
  auto p = factory.create({{"base_url", base_url_for(GetParam(), "http://127.0.0.1:9")}, {"model", "m"}, {"api_key", "k"}});
  try {
    p->generate(hello());
    FAIL() << "no error";
  } catch (const IoError& e) {
    EXPECT_NE(std::string(e.what()).find(GetParam() + ": connection refused: http://127.0.0.1:9/"), std::string::npos)
        << e.what();
  }
}

INSTANTIATE_TEST_SUITE_P(Apis, RemoteFailures, ::testing::Values("openai", "anthropic", "ollama"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace allm::test
