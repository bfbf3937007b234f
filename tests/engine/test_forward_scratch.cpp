// Memory sized ahead of use, so a request's forward calls allocate nothing:
// ForwardScratch::reserve_scratch (a prefill chunk's activations) and
// KVPool::add_spare_block (KV blocks ready in the free list). What is pinned
// here is the capacity, not time: after reserve_scratch(N) no forward call of
// up to N tokens grows the scratch, the results are unchanged, and spare
// blocks are what sequences take first, within the pool's budget.
#include <gtest/gtest.h>

#include <vector>

#include "allm/error.hpp"
#include "engine_test_util.hpp"

namespace allm::test {
namespace {

TEST(ForwardScratch, ReservedWidthHoldsEveryCallUpToItAndResultsAreUnchanged) {
  Checkpoint ckpt = load_fixture("qwen3");
  auto model = make_model(ckpt);
  auto reference = make_model(ckpt);  // never reserved: grows call by call
  ForwardScratch* scratch = forward_scratch(*model);
  ASSERT_NE(scratch, nullptr) << "the engine's decoder sizes its scratch ahead";
  EXPECT_EQ(scratch->scratch_tokens(), 0);
  const int64_t V = model->info().vocab_size, N = 40;
  scratch->reserve_scratch(N);
  EXPECT_EQ(scratch->scratch_tokens(), N);

  // One prompt of N tokens, then two sequences batched (N tokens together), then decode steps.
  auto pool = model->make_pool(), ref_pool = reference->make_pool();
  KVCache a(pool), b(pool), ref_a(ref_pool), ref_b(ref_pool);
  const auto prompt_a = synthetic_tokens(N, 1, V), prompt_b = synthetic_tokens(N / 2, 2, V);
  const auto more_a = synthetic_tokens(N / 2, 3, V);
  std::vector<float> got(static_cast<size_t>(N * V)), want(static_cast<size_t>(N * V));
  model->forward(prompt_a, a, LogitsMode::all, got.data());
  reference->forward(prompt_a, ref_a, LogitsMode::all, want.data());
  EXPECT_EQ(got, want) << "a reserved scratch computes what a grown one does";
  EXPECT_EQ(scratch->scratch_tokens(), N);

  std::vector<BatchEntry> both = {{&a, more_a, LogitsMode::last}, {&b, prompt_b, LogitsMode::last}};
  std::vector<BatchEntry> ref_both = {{&ref_a, more_a, LogitsMode::last}, {&ref_b, prompt_b, LogitsMode::last}};
  got.assign(static_cast<size_t>(2 * V), 0.0f);
  want.assign(static_cast<size_t>(2 * V), 0.0f);
  model->forward(both, got.data());
  reference->forward(ref_both, want.data());
  EXPECT_EQ(got, want);
  EXPECT_EQ(scratch->scratch_tokens(), N) << "a batch of N tokens in all fits";

  // A smaller reservation never shrinks it; a wider call still grows it.
  scratch->reserve_scratch(N / 4);
  EXPECT_EQ(scratch->scratch_tokens(), N);
  KVCache c(pool);
  model->forward(synthetic_tokens(N + 1, 4, V), c, LogitsMode::last, got.data());
  EXPECT_EQ(scratch->scratch_tokens(), N + 1);
  scratch->reserve_scratch(0);
  EXPECT_EQ(scratch->scratch_tokens(), N + 1);
}

TEST(KVPoolSpare, SpareBlocksAreTakenFirstAndStayWithinTheBudget) {
  Checkpoint ckpt = load_fixture("qwen3");
  auto model = make_model(ckpt);
  const int64_t V = model->info().vocab_size;
  const uint64_t per_block = model->make_pool()->block_bytes();
  auto pool = model->make_pool(3 * per_block);
  const int64_t bp = pool->block_positions();
  EXPECT_EQ(pool->blocks_available(), 3);

  EXPECT_TRUE(pool->add_spare_block(2));
  EXPECT_TRUE(pool->add_spare_block(2));
  EXPECT_FALSE(pool->add_spare_block(2)) << "two are free: the target is met";
  EXPECT_EQ(pool->free_blocks(), 2);
  EXPECT_EQ(pool->blocks_in_use(), 0) << "spare blocks are not in use";
  EXPECT_EQ(pool->blocks_available(), 3) << "the budget counts spare blocks as available, not spent";

  // A sequence takes the spare ones (zeroed, as fresh ones are) and computes what it would without them.
  KVCache a(pool);
  std::vector<float> got(static_cast<size_t>(V)), want(static_cast<size_t>(V));
  const auto ids = synthetic_tokens(2 * bp, 1, V);
  model->forward(ids, a, LogitsMode::last, got.data());
  auto fresh = model->make_cache();
  model->forward(ids, *fresh, LogitsMode::last, want.data());
  EXPECT_EQ(got, want);
  EXPECT_EQ(pool->free_blocks(), 0);
  EXPECT_EQ(pool->blocks_in_use(), 2);

  // One more fits the budget of three; then none, whatever the target.
  EXPECT_TRUE(pool->add_spare_block(4));
  EXPECT_FALSE(pool->add_spare_block(4)) << "the budget allows three blocks in all";
  EXPECT_EQ(pool->free_blocks(), 1);
  KVCache b(pool);
  model->forward(synthetic_tokens(bp, 2, V), b, LogitsMode::last, got.data());
  EXPECT_THROW(model->forward(synthetic_tokens(1, 3, V), b, LogitsMode::last, got.data()), OutOfMemoryError);
}

}  // namespace
}  // namespace allm::test
