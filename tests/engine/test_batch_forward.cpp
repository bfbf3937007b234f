// One forward pass over several sequences: each sequence's logits equal those
// of its solo run, whatever it is batched with (prefill chunks and decode
// tokens mixed); and the paged KV pool: forks share a prefix copy-on-write,
// truncation and destruction return blocks, the byte budget is enforced with a
// clear error that leaves the caches usable.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "allm/error.hpp"
#include "engine_test_util.hpp"

namespace allm::test {
namespace {

// Logits of every position of `ids`, one sequence, one call.
std::vector<float> solo(Model& m, const std::vector<int32_t>& ids) {
  std::vector<float> out(ids.size() * static_cast<size_t>(m.info().vocab_size));
  auto cache = m.make_cache();
  m.forward(ids, *cache, LogitsMode::all, out.data());
  return out;
}

double row_diff(const float* a, const float* b, int64_t n) {
  double worst = 0;
  for (int64_t i = 0; i < n; ++i) {
    const double d = std::fabs(double(a[i]) - b[i]);
    worst = std::isnan(d) ? INFINITY : std::max(worst, d);  // a row never written stays NaN
  }
  return worst;
}

class BatchForward : public ::testing::TestWithParam<std::string> {};

// Three sequences of different lengths go through one shared pool in mixed
// batches; every logits row returned must equal the solo run's row.
TEST_P(BatchForward, EachSequenceEqualsItsSoloRun) {
  Checkpoint ckpt = load_fixture(GetParam());
  auto model = make_model(ckpt);
  const int64_t V = model->info().vocab_size;
  struct Seq {
    std::vector<int32_t> ids;  // everything the sequence will hold
    int64_t fed = 0;
    std::unique_ptr<KVCache> cache;
    std::vector<float> reference;
  };
  auto pool = model->make_pool();
  std::vector<Seq> seqs(3);
  const int64_t lengths[] = {37, 21, 44};
  for (int i = 0; i < 3; ++i) {
    seqs[i].ids = synthetic_tokens(lengths[i], i + 1, V);
    seqs[i].cache = std::make_unique<KVCache>(pool);
    seqs[i].reference = solo(*model, seqs[i].ids);
  }
  // Per round, how many tokens each sequence feeds (0: not in the batch) and which logits it asks for.
  const std::vector<std::vector<std::pair<int64_t, LogitsMode>>> rounds = {
      {{5, LogitsMode::all}, {7, LogitsMode::last}, {0, LogitsMode::none}},
      {{1, LogitsMode::last}, {6, LogitsMode::all}, {20, LogitsMode::last}},
      {{9, LogitsMode::none}, {1, LogitsMode::last}, {1, LogitsMode::all}},
  };
  double worst = 0;
  auto run_round = [&](const std::vector<std::pair<int64_t, LogitsMode>>& round) {
    std::vector<BatchEntry> batch;
    std::vector<int> who;
    int64_t rows = 0;
    for (int i = 0; i < 3; ++i) {
      const auto [len, mode] = round[i];
      if (len == 0) continue;
      batch.push_back({seqs[i].cache.get(),
                       std::span<const int32_t>(seqs[i].ids.data() + seqs[i].fed, static_cast<size_t>(len)), mode});
      who.push_back(i);
      rows += mode == LogitsMode::all ? len : mode == LogitsMode::last ? 1 : 0;
    }
    std::vector<float> logits(static_cast<size_t>(std::max<int64_t>(rows, 1) * V), NAN);
    model->forward(batch, logits.data());
    int64_t row = 0;
    for (size_t e = 0; e < batch.size(); ++e) {
      Seq& s = seqs[who[e]];
      const int64_t len = static_cast<int64_t>(batch[e].tokens.size());
      const int64_t first = batch[e].logits == LogitsMode::all ? 0 : batch[e].logits == LogitsMode::last ? len - 1 : len;
      for (int64_t t = first; t < len; ++t, ++row)
        worst = std::max(worst, row_diff(logits.data() + row * V, s.reference.data() + (s.fed + t) * V, V));
      s.fed += len;
      EXPECT_EQ(s.cache->size(), s.fed);
    }
  };
  for (const auto& r : rounds) run_round(r);
  // Then decode all three together, one token each, until the shortest is done.
  while (seqs[0].fed < lengths[0] && seqs[1].fed < lengths[1] && seqs[2].fed < lengths[2])
    run_round({{1, LogitsMode::last}, {1, LogitsMode::last}, {1, LogitsMode::last}});
  std::printf("[ %s ] worst |batched - solo| = %.3g\n", GetParam().c_str(), worst);
  EXPECT_LE(worst, 1e-4);
}

INSTANTIATE_TEST_SUITE_P(Fixtures, BatchForward,
                         ::testing::Values("llama", "mistral", "gemma2", "gemma3", "phi3", "qwen3_moe", "qwen3-bf16",
                                           "llama-mlx4", "granite", "smollm3", "olmo2", "gpt_oss"),
                         [](const auto& info) {
                           std::string n = info.param;
                           for (auto& ch : n)
                             if (ch == '-') ch = '_';
                           return n;
                         });

TEST(KVPool, ForkSharesThePrefixCopyOnWrite) {
  Checkpoint ckpt = load_fixture("mistral");
  auto model = make_model(ckpt);
  const int64_t V = model->info().vocab_size;
  auto pool = model->make_pool();
  const int64_t bp = pool->block_positions();
  const auto prefix = synthetic_tokens(2 * bp + 5, 1, V);
  const auto tail_a = synthetic_tokens(9, 2, V), tail_b = synthetic_tokens(12, 3, V);
  KVCache parent(pool);
  std::vector<float> last(static_cast<size_t>(V));
  model->forward(prefix, parent, LogitsMode::last, last.data());
  EXPECT_EQ(pool->blocks_in_use(), 3);

  auto child = parent.fork(static_cast<int64_t>(prefix.size()));
  EXPECT_EQ(child->size(), static_cast<int64_t>(prefix.size()));
  EXPECT_EQ(pool->blocks_in_use(), 3) << "a fork shares its parent's blocks";

  auto check = [&](KVCache& cache, const std::vector<int32_t>& tail) {
    std::vector<float> got(tail.size() * static_cast<size_t>(V));
    model->forward(tail, cache, LogitsMode::all, got.data());
    std::vector<int32_t> all = prefix;
    all.insert(all.end(), tail.begin(), tail.end());
    const auto ref = solo(*model, all);
    EXPECT_LE(row_diff(got.data(), ref.data() + prefix.size() * V, static_cast<int64_t>(got.size())), 1e-4);
  };
  check(*child, tail_b);   // writes into the shared partial block: copied first
  check(parent, tail_a);   // the parent's own data is untouched by the child
  EXPECT_GT(pool->blocks_in_use(), 3);

  // A fork at a block boundary shares whole blocks; freeing returns blocks to the pool.
  auto grandchild = child->fork(2 * bp);
  EXPECT_EQ(grandchild->size(), 2 * bp);
  const int64_t before = pool->blocks_in_use();
  child.reset();
  grandchild.reset();
  EXPECT_LT(pool->blocks_in_use(), before);
  parent.truncate(bp);
  EXPECT_EQ(pool->blocks_in_use(), 1);
}

TEST(KVPool, BudgetIsEnforcedWithAClearErrorAndCachesStayUsable) {
  Checkpoint ckpt = load_fixture("qwen3");
  auto model = make_model(ckpt);
  const int64_t V = model->info().vocab_size;
  const uint64_t per_block = model->make_pool()->block_bytes();
  auto pool = model->make_pool(4 * per_block);
  const int64_t bp = pool->block_positions();
  std::vector<float> logits(static_cast<size_t>(V));
  KVCache a(pool), b(pool);
  model->forward(synthetic_tokens(3 * bp, 1, V), a, LogitsMode::last, logits.data());
  try {
    model->forward(synthetic_tokens(2 * bp, 2, V), b, LogitsMode::last, logits.data());
    FAIL() << "over-budget request accepted";
  } catch (const OutOfMemoryError& e) {
    EXPECT_NE(std::string(e.what()).find("budget"), std::string::npos) << e.what();
  }
  EXPECT_EQ(b.size(), 0);
  EXPECT_EQ(pool->blocks_in_use(), 3) << "a refused request holds no blocks";
  // The pool is still usable: a sequence that fits runs, and freeing makes room.
  model->forward(synthetic_tokens(bp, 2, V), b, LogitsMode::last, logits.data());
  EXPECT_EQ(b.size(), bp);
  a.clear();
  model->forward(synthetic_tokens(2 * bp, 3, V), b, LogitsMode::last, logits.data());
  EXPECT_EQ(b.size(), 3 * bp);
  EXPECT_THROW(model->make_pool(per_block / 2), InvalidArgumentError);
}

TEST(BatchForwardErrors, RejectsRepeatedCachesBadTokensAndBadStarts) {
  Checkpoint ckpt = load_fixture("llama");
  auto model = make_model(ckpt);
  const int64_t V = model->info().vocab_size;
  auto pool = model->make_pool();
  KVCache a(pool), b(pool);
  const std::vector<int32_t> ids = {1, 2, 3}, bad = {1, static_cast<int32_t>(V)};
  std::vector<float> logits(static_cast<size_t>(4 * V));
  std::vector<BatchEntry> twice = {{&a, ids}, {&a, ids}};
  EXPECT_THROW(model->forward(twice, logits.data()), InvalidArgumentError);
  std::vector<BatchEntry> bad_token = {{&a, ids}, {&b, bad}};
  EXPECT_THROW(model->forward(bad_token, logits.data()), InvalidArgumentError);
  EXPECT_EQ(a.size(), 0) << "nothing runs when one entry is bad";
  std::vector<BatchEntry> past_end = {{&a, ids, LogitsMode::last, 2}};
  EXPECT_THROW(model->forward(past_end, logits.data()), InvalidArgumentError);

  // `start` rewinds: feeding ids again at position 1 equals a fresh run of {1, 1, 2, 3}.
  model->forward(ids, a, LogitsMode::last, logits.data());
  std::vector<BatchEntry> rewind = {{&a, ids, LogitsMode::last, 1}};
  model->forward(rewind, logits.data());
  EXPECT_EQ(a.size(), 4);
  const auto ref = solo(*model, {1, 1, 2, 3});
  EXPECT_LE(row_diff(logits.data(), ref.data() + 3 * V, V), 1e-4);
}

}  // namespace
}  // namespace allm::test
