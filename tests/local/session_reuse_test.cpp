// Multi-turn KV reuse: follow-up turns prefill only new tokens and produce
// what a fresh run of the whole conversation produces; saved sessions carry
// the KV cache to a provider on the same model.
#include <gtest/gtest.h>

#include "allm/provider/session.hpp"
#include "local_test_util.hpp"

namespace allm::local::test {
namespace {

SessionOptions greedy_session(int n) {
  SessionOptions o;
  o.system_prompt = "Be brief.";
  o.params.temperature = 0;
  o.params.repetition_penalty = 1.0;
  o.params.max_tokens = n;
  o.params.ignore_eos = true;
  return o;
}

TEST(LocalSession, FollowUpTurnPrefillsOnlyNewTokensAndMatchesAFreshRun) {
  auto p = make_provider(fixture("qwen3"));
  ChatSession chat(p, greedy_session(8));
  chat.send("first question");
  const PromptStats first = p->last_prompt_stats();
  EXPECT_EQ(first.reused_tokens, 0);
  EXPECT_EQ(first.processed_tokens, first.prompt_tokens);

  const std::vector<Message> before = chat.history();
  GenerateResponse second = chat.send("second question");
  const PromptStats s = p->last_prompt_stats();
  EXPECT_EQ(s.prompt_tokens, second.usage.prompt_tokens);
  EXPECT_GT(s.reused_tokens, first.prompt_tokens - 1);
  EXPECT_LT(s.processed_tokens, s.prompt_tokens);
  EXPECT_EQ(s.processed_tokens + s.reused_tokens, s.prompt_tokens);
  EXPECT_EQ(p->capabilities().model_info["last_prompt"]["processed_tokens"], s.processed_tokens);

  // A provider without any cache, given the whole conversation at once.
  auto fresh = make_provider(fixture("qwen3"));
  GenerateRequest all;
  all.system_prompt = "Be brief.";
  all.messages = before;
  all.messages.push_back({"user", "second question", {}});
  all.params = greedy_session(8).params;
  GenerateResponse expected = fresh->generate(all);
  EXPECT_EQ(fresh->last_prompt_stats().reused_tokens, 0);
  EXPECT_EQ(expected.usage.prompt_tokens, second.usage.prompt_tokens);
  EXPECT_EQ(expected.token_ids, second.token_ids);
  EXPECT_EQ(expected.text, second.text);
}

// The repetition penalty counts the whole prompt, also the part a request
// takes from the cache: repeating a request must repeat its reply (a server's
// prompt cache serves the second one from the cached prefix).
TEST(LocalSession, ReusedPrefixSamplesLikeAFreshRunUnderRepetitionPenalty) {
  GenerateRequest req;
  req.system_prompt = "Be brief.";
  req.messages = {{"user", "tell me about the sea and the sea and the sea", {}}};
  req.params.temperature = 0;
  req.params.repetition_penalty = 1.8;
  req.params.max_tokens = 12;
  req.params.ignore_eos = true;

  auto p = make_provider(fixture("qwen3"));
  const GenerateResponse first = p->generate(req);
  EXPECT_EQ(p->last_prompt_stats().reused_tokens, 0);
  const GenerateResponse again = p->generate(req);
  EXPECT_GT(p->last_prompt_stats().reused_tokens, 0);
  EXPECT_EQ(first.token_ids, again.token_ids);
  EXPECT_EQ(first.text, again.text);

  auto fresh = make_provider(fixture("qwen3"));
  EXPECT_EQ(fresh->generate(req).token_ids, again.token_ids);
}

TEST(LocalSession, SavedKvCacheIsRestoredOnTheSameModelOnly) {
  const auto file = std::filesystem::temp_directory_path() / "allm_local_session.json";
  auto p = make_provider(fixture("qwen3"));
  ChatSession chat(p, greedy_session(6));
  chat.send("remember this");
  chat.save(file);
  ASSERT_TRUE(std::filesystem::exists(file.string() + ".kv"));

  auto q = make_provider(fixture("qwen3"));
  ChatSession resumed = ChatSession::load(q, file);
  EXPECT_TRUE(resumed.cache_restored());
  EXPECT_EQ(resumed.history().size(), 2u);
  GenerateResponse next = resumed.send("and now?");
  EXPECT_GT(q->last_prompt_stats().reused_tokens, 0);
  EXPECT_LT(q->last_prompt_stats().processed_tokens, next.usage.prompt_tokens);
  // Same continuation as the original provider, which kept its cache in memory.
  EXPECT_EQ(chat.send("and now?").token_ids, next.token_ids);

  auto other = make_provider(fixture("llama"));
  ChatSession elsewhere = ChatSession::load(other, file);
  EXPECT_FALSE(elsewhere.cache_restored());
  EXPECT_EQ(elsewhere.history().size(), 2u);
  std::filesystem::remove(file);
  std::filesystem::remove(file.string() + ".kv");
}

TEST(LocalSession, EditedHistoryRewindsTheCache) {
  auto p = make_provider(fixture("qwen3"));
  GenerateRequest a;
  a.messages = {{"user", "alpha beta gamma", {}}};
  a.params = greedy_session(4).params;
  p->generate(a);
  GenerateRequest b = a;
  b.messages = {{"user", "alpha delta", {}}};
  GenerateResponse out = p->generate(b);
  const PromptStats s = p->last_prompt_stats();
  EXPECT_LT(s.reused_tokens, s.prompt_tokens);
  auto fresh = make_provider(fixture("qwen3"));
  EXPECT_EQ(fresh->generate(b).token_ids, out.token_ids);
}

}  // namespace
}  // namespace allm::local::test
