// Blocking and callback-streamed generation through the Provider entry points.
#include <gtest/gtest.h>

#include <future>
#include <thread>

#include "allm/error.hpp"
#include "fake_provider.hpp"

using fake::FakeOptions;
using fake::FakeProvider;

namespace {

allm::GenerateRequest prompt(const std::string& text) {
  allm::GenerateRequest r;
  r.prompt = text;
  return r;
}

}  // namespace

TEST(Generate, BlockingReturnsTextUsageAndIds) {
  FakeProvider p;
  auto r = p.generate(prompt("say hi"));
  EXPECT_EQ(r.text, "Hello world, how are you?");
  EXPECT_EQ(r.finish_reason, "stop");
  EXPECT_EQ(r.model, "fake-model");
  EXPECT_EQ(r.token_ids, (std::vector<allm::TokenId>{1, 2, 3, 4, 5, 6, 7}));
  EXPECT_EQ(r.usage.prompt_tokens, 3);  // "user: say hi"
  EXPECT_EQ(r.usage.completion_tokens, 7);
  EXPECT_EQ(r.usage.total_tokens, 10);
}

TEST(Generate, PromptBecomesAUserTurnAfterTheSystemPrompt) {
  FakeProvider p;
  auto req = prompt("hi");
  req.system_prompt = "be nice";
  p.generate(req);
  ASSERT_EQ(p.last_request.messages.size(), 2u);
  EXPECT_EQ(p.last_request.messages[0].role, "system");
  EXPECT_EQ(p.last_request.messages[0].content, "be nice");
  EXPECT_EQ(p.last_request.messages[1].role, "user");
}

TEST(Generate, MaxTokensGivesLength) {
  FakeProvider p;
  auto req = prompt("hi");
  req.params.max_tokens = 2;
  auto r = p.generate(req);
  EXPECT_EQ(r.text, "Hello world");
  EXPECT_EQ(r.finish_reason, "length");
}

TEST(Generate, RequestParamsOverrideModelAndConfigDefaults) {
  FakeOptions o;
  o.model_defaults.temperature = 0.6;
  o.model_defaults.top_k = 20;
  o.config_defaults = allm::GenerationParams::from_json({{"temperature", 0.7}, {"top_k", 40}, {"top_p", 0.9}});
  FakeProvider p(o);
  auto req = prompt("hi");
  req.params.top_k = 5;
  p.generate(req);
  EXPECT_DOUBLE_EQ(p.last_params.temperature, 0.6);
  EXPECT_EQ(p.last_params.top_k, 5);
  EXPECT_DOUBLE_EQ(p.last_params.top_p, 0.9);
}

TEST(Generate, InvalidRequestThrowsBeforeTheEngineRuns) {
  FakeProvider p;
  auto req = prompt("hi");
  req.params.temperature = -1;
  EXPECT_THROW(p.generate(req), allm::InvalidArgumentError);
  EXPECT_EQ(p.calls, 0);
}

TEST(Generate, ContextOverflowFollowsThePolicy) {
  FakeOptions o;
  o.context_length = 12;
  o.reserve = 4;
  FakeProvider p(o);
  allm::GenerateRequest req;
  req.messages = {{"user", "a b c d", {}}, {"assistant", "e f", {}}, {"user", "g", {}}};
  EXPECT_THROW(p.generate(req), allm::ContextWindowError);
  req.truncation = allm::TruncationPolicy::drop_oldest;
  auto r = p.generate(req);
  EXPECT_EQ(r.usage.prompt_tokens, 2);
  ASSERT_EQ(p.last_request.messages.size(), 1u);
  EXPECT_EQ(p.last_request.messages[0].content, "g");
}

TEST(Generate, CallbackSeesDeltasInOrderBeforeCompletion) {
  FakeProvider p;
  p.gate.arm(3);  // the engine holds before its 4th token
  std::promise<std::string> first;
  std::vector<std::string> deltas;
  std::atomic<bool> finished{false};
  std::thread t([&] {
    p.generate(prompt("hi"), [&](const allm::StreamDelta& d) {
      if (deltas.empty()) first.set_value(d.text);
      deltas.push_back(d.text);
    });
    finished = true;
  });
  EXPECT_EQ(first.get_future().get(), "Hello");
  p.gate.wait_reached();
  EXPECT_FALSE(finished.load());  // the first delta came while the engine was still generating
  p.gate.open();
  t.join();
  EXPECT_EQ(deltas, (std::vector<std::string>{"Hello", " world", ",", " how", " are", " you", "?"}));
}

TEST(Generate, DeltasCarryTheirTokenIds) {
  FakeProvider p;
  auto req = prompt("hi");
  std::vector<allm::TokenId> ids;
  std::string text;
  auto r = p.generate(req, [&](const allm::StreamDelta& d) {
    ids.insert(ids.end(), d.token_ids.begin(), d.token_ids.end());
    text += d.text;
  });
  EXPECT_EQ(ids, r.token_ids);
  EXPECT_EQ(text, r.text);
}

TEST(Generate, CancelFromTheCallbackStopsAtTheNextToken) {
  FakeProvider p;
  allm::CancellationToken cancel;
  int seen = 0;
  auto r = p.generate(prompt("hi"), [&](const allm::StreamDelta&) {
    if (++seen == 2) cancel.cancel();
  }, cancel);
  EXPECT_EQ(r.finish_reason, "cancelled");
  EXPECT_EQ(r.text, "Hello world");
  EXPECT_EQ(seen, 2);
}

TEST(Generate, EngineErrorsPropagate) {
  FakeOptions o;
  o.throw_at_step = 2;
  FakeProvider p(o);
  EXPECT_THROW(p.generate(prompt("hi")), allm::ModelLoadError);
  // The provider is usable again afterwards.
  FakeProvider q;
  EXPECT_EQ(q.generate(prompt("hi")).finish_reason, "stop");
}

TEST(Capabilities, Json) {
  FakeProvider p;
  auto j = p.capabilities().to_json();
  EXPECT_EQ(j["streaming"], true);
  EXPECT_EQ(j["vision"], false);
  EXPECT_EQ(j["max_context"], 64);
  EXPECT_EQ(j["model"], "fake-model");
}
