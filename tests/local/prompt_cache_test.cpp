// The prompt cache shared by providers on one model (allm serve's slots):
// a provider starts from another's finished sequence when it shares the
// longer prefix, and answers as a provider without the cache; the kept
// sequences stay within their byte limit.
#include <gtest/gtest.h>

#include "local_test_util.hpp"

namespace allm::local::test {
namespace {

using nlohmann::json;

const std::string kShared =
    "A shared beginning that several requests send before their own question, long enough to fill "
    "more than one block of sixteen positions in the paged key/value pool: ";

TEST(LocalPromptCache, AnotherProviderReusesTheSharedPrefixAndAnswersTheSame) {
  auto a = make_provider(fixture("qwen3"), {{"prompt_cache", 1 << 24}});
  auto b = make_provider(fixture("qwen3"), {{"prompt_cache", 1 << 24}});
  a->generate(greedy(kShared + "what is the first answer?", 6));
  EXPECT_EQ(a->last_prompt_stats().reused_tokens, 0);

  const GenerateResponse shared = b->generate(greedy(kShared + "and the second one?", 6));
  const PromptStats s = b->last_prompt_stats();
  EXPECT_TRUE(s.from_shared);
  EXPECT_GT(s.reused_tokens, 16);
  EXPECT_LT(s.reused_tokens, s.prompt_tokens);
  EXPECT_EQ(s.processed_tokens + s.reused_tokens, s.prompt_tokens);
  EXPECT_EQ(b->capabilities().model_info["last_prompt"]["reused_from_shared"], true);

  // Without the shared cache: a cold prefill of the whole prompt.
  auto cold = make_provider(fixture("qwen3"));
  const GenerateResponse fresh = cold->generate(greedy(kShared + "and the second one?", 6));
  EXPECT_EQ(cold->last_prompt_stats().reused_tokens, 0);
  EXPECT_EQ(shared.token_ids, fresh.token_ids);
  EXPECT_EQ(shared.text, fresh.text);
}

TEST(LocalPromptCache, KeptSequencesStayWithinTheirLimit) {
  auto first = make_provider(fixture("llama"), {{"prompt_cache", 1 << 24}});
  first->generate(greedy("Question zero: " + kShared, 4));
  const json pc = first->capabilities().model_info["prompt_cache"];
  ASSERT_EQ(pc["entries"], 1);
  const uint64_t one = pc["bytes"].get<uint64_t>();
  ASSERT_GT(one, 0u);

  const uint64_t limit = 2 * one + one / 2;
  auto p = make_provider(fixture("llama"), {{"prompt_cache", limit}});
  for (int i = 1; i <= 5; ++i) {
    p->generate(greedy("Question " + std::to_string(i) + ": " + kShared, 4));
    const json now = p->capabilities().model_info["prompt_cache"];
    EXPECT_LE(now["bytes"].get<uint64_t>(), limit) << "after request " << i;
    EXPECT_GE(now["entries"].get<uint64_t>(), 1u) << "after request " << i;  // the latest is kept
  }
}

}  // namespace
}  // namespace allm::local::test
