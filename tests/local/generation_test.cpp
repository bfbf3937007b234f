// Generation through the provider: streaming, token counts, seeds, stop strings.
#include <chrono>

#include <gtest/gtest.h>

#include "local_test_util.hpp"

namespace allm::local::test {
namespace {

using Clock = std::chrono::steady_clock;

TEST(LocalGenerate, StreamsDeltasBeforeTheEnd) {
  auto p = make_provider(fixture("qwen3"));
  GenerateRequest r = greedy("tell me a story", 24);
  std::vector<StreamDelta> deltas;
  Clock::time_point first{};
  GenerateResponse out = p->generate(r, [&](const StreamDelta& d) {
    if (deltas.empty()) first = Clock::now();
    deltas.push_back(d);
  });
  const auto end = Clock::now();
  ASSERT_GT(deltas.size(), 1u);
  EXPECT_LT(first, end);
  std::string text;
  std::vector<TokenId> ids;
  for (auto& d : deltas) {
    text += d.text;
    ids.insert(ids.end(), d.token_ids.begin(), d.token_ids.end());
  }
  EXPECT_EQ(text, out.text);
  EXPECT_EQ(ids, out.token_ids);
  EXPECT_EQ(out.finish_reason, "length");
}

TEST(LocalGenerate, UsageCountsTheRenderedPromptAndTheReply) {
  auto p = make_provider(fixture("qwen3"));
  GenerateRequest r = greedy("count me", 7);
  r.system_prompt = "sys";
  const size_t rendered = p->render(r).ids.size();
  GenerateResponse out = p->generate(r);
  EXPECT_EQ(out.usage.prompt_tokens, static_cast<int64_t>(rendered));
  EXPECT_EQ(out.usage.completion_tokens, static_cast<int64_t>(out.token_ids.size()));
  EXPECT_EQ(out.usage.completion_tokens, 7);
  EXPECT_EQ(out.usage.total_tokens, out.usage.prompt_tokens + 7);
  EXPECT_GT(out.timings.decode_tokens_per_s, 0);
  EXPECT_GT(out.timings.prefill_tokens_per_s, 0);
  const auto j = out.to_json();
  EXPECT_EQ(j["usage"]["completion_tokens"], j["token_ids"].size());
}

TEST(LocalGenerate, SameSeedSameTokensOtherSeedOtherTokens) {
  auto p = make_provider(fixture("qwen3"));
  GenerateRequest r = greedy("sample", 24);
  r.params.temperature = 1.0;
  r.params.top_k = 0;
  r.params.top_p = 1.0;
  r.params.min_p = 0.0;
  r.params.seed = 1;
  const auto a = p->generate(r).token_ids;
  const auto b = p->generate(r).token_ids;
  r.params.seed = 2;
  const auto c = p->generate(r).token_ids;
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
}

TEST(LocalGenerate, StopStringEndsTheReplyBeforeIt) {
  auto p = make_provider(fixture("qwen3"));
  GenerateRequest r = greedy("stop somewhere", 32);
  const std::string full = p->generate(r).text;
  ASSERT_GE(full.size(), 8u) << full;
  // A stop string from the middle of the greedy reply.
  size_t at = full.size() / 2;
  std::string stop = full.substr(at, 3);
  at = full.find(stop);
  r.params.stop = std::vector<std::string>{stop};
  GenerateResponse out = p->generate(r);
  EXPECT_EQ(out.finish_reason, "stop");
  EXPECT_EQ(out.text, full.substr(0, at));
  EXPECT_EQ(out.text.find(stop), std::string::npos);
}

TEST(LocalGenerate, EndOfSequenceIsNotInTheTokenIds) {
  // The shipped chat model ends its replies with <|im_end|> (id 2; 0 is the other EOS).
  auto p = make_provider(shipped_model());
  GenerateRequest r;
  r.prompt = "Good morning! How are you today?";
  r.params.max_tokens = 200;
  for (int64_t seed = 1; seed <= 20; ++seed) {
    r.params.seed = seed;
    GenerateResponse out = p->generate(r);
    if (out.finish_reason != "stop") continue;
    EXPECT_EQ(out.usage.completion_tokens, static_cast<int64_t>(out.token_ids.size()));
    for (TokenId id : out.token_ids) EXPECT_TRUE(id != 0 && id != 2) << id;
    EXPECT_EQ(out.text.find("<|im_end|>"), std::string::npos);
    return;
  }
  FAIL() << "no seed out of 20 ended the reply with an end-of-sequence token";
}

}  // namespace
}  // namespace allm::local::test
