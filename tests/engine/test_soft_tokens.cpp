// BatchEntry::soft_tokens: input embeddings that stand for some tokens (a vision
// encoder's soft tokens). Rows equal to the tokens' own (scaled) embeddings give
// the tokens' logits exactly; a bidirectional group changes what its tokens see
// and nothing before it; bad ranges are refused before any cache changes.
// (The Gemma 3 vision references test the bidirectional attention against
// transformers: tests/vision/.)
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "allm/error.hpp"
#include "allm/generate.hpp"
#include "engine_test_util.hpp"

namespace allm::test {
namespace {

std::vector<int32_t> prompt(int64_t count, int64_t vocab) {
  std::vector<int32_t> ids;
  for (int64_t i = 0; i < count; ++i) ids.push_back(static_cast<int32_t>((i * 37 + 11) % vocab));
  return ids;
}

// Row `id` of the (F32) embedding table times `scale`.
std::vector<float> embedding_rows(const Checkpoint& ckpt, const std::vector<int32_t>& ids, float scale) {
  const Tensor& t = ckpt.weights->get("model.embed_tokens.weight");
  EXPECT_EQ(t.dtype, DType::F32);
  const int64_t H = t.shape[1];
  std::vector<float> rows(ids.size() * H);
  for (size_t i = 0; i < ids.size(); ++i) {
    std::memcpy(rows.data() + i * H, static_cast<const float*>(t.data) + ids[i] * H, H * sizeof(float));
    for (int64_t c = 0; c < H; ++c) rows[i * H + c] *= scale;
  }
  return rows;
}

double max_diff(const float* a, const float* b, int64_t n) {
  double worst = 0;
  for (int64_t i = 0; i < n; ++i) worst = std::max(worst, std::fabs(double(a[i]) - b[i]));
  return worst;
}

struct Case {
  std::string fixture;
  float embed_scale;  // what the architecture multiplies token embeddings by
};

class SoftTokensTest : public ::testing::TestWithParam<Case> {};

TEST_P(SoftTokensTest, RowsEqualToTheTokensOwnGiveTheirLogits) {
  Checkpoint ckpt = load_fixture(GetParam().fixture);
  auto model = make_model(ckpt);
  const int64_t V = model->info().vocab_size, T = 24, first = 5, count = 7;
  const auto ids = prompt(T, V);
  std::vector<float> want(T * V), got(T * V);
  model->forward(ids, *model->make_cache(), LogitsMode::all, want.data());

  const std::vector<int32_t> stood_for(ids.begin() + first, ids.begin() + first + count);
  const auto rows = embedding_rows(ckpt, stood_for, GetParam().embed_scale);
  auto placeholder = ids;
  for (int64_t t = first; t < first + count; ++t) placeholder[t] = static_cast<int32_t>(V + 100);  // never looked up
  const allm::SoftTokens input{first, count, rows.data(), false};
  auto cache = model->make_cache();
  const BatchEntry entry{cache.get(), placeholder, LogitsMode::all, -1, std::span(&input, 1)};
  model->forward(std::span(&entry, 1), got.data());
  EXPECT_LT(max_diff(want.data(), got.data(), T * V), 1e-4);
}

TEST_P(SoftTokensTest, BidirectionalGroupChangesItsTokensOnly) {
  Checkpoint ckpt = load_fixture(GetParam().fixture);
  auto model = make_model(ckpt);
  const int64_t V = model->info().vocab_size, T = 20, first = 6, count = 5;
  const auto ids = prompt(T, V);
  const std::vector<int32_t> stood_for(ids.begin() + first, ids.begin() + first + count);
  const auto rows = embedding_rows(ckpt, stood_for, GetParam().embed_scale);
  std::vector<float> causal(T * V), both(T * V);
  for (bool bidirectional : {false, true}) {
    const allm::SoftTokens input{first, count, rows.data(), bidirectional};
    auto cache = model->make_cache();
    const BatchEntry entry{cache.get(), ids, LogitsMode::all, -1, std::span(&input, 1)};
    model->forward(std::span(&entry, 1), (bidirectional ? both : causal).data());
  }
  // Before the group: the same. Its first token now sees the rest of the group.
  EXPECT_LT(max_diff(causal.data(), both.data(), first * V), 1e-5);
  EXPECT_GT(max_diff(causal.data() + first * V, both.data() + first * V, V), 1e-3);
}

// generate() feeds the prompt in chunks but never splits a run: with chunks of
// 4 tokens, a bidirectional run over positions 6..10 gives the first token of
// the single-call forward.
TEST_P(SoftTokensTest, GenerateKeepsARunInOneChunk) {
  Checkpoint ckpt = load_fixture(GetParam().fixture);
  auto model = make_model(ckpt);
  const int64_t V = model->info().vocab_size, T = 20, first = 6, count = 5;
  const auto ids = prompt(T, V);
  const std::vector<int32_t> stood_for(ids.begin() + first, ids.begin() + first + count);
  auto rows = embedding_rows(ckpt, stood_for, GetParam().embed_scale);
  for (float& r : rows) r *= 1.5f;  // not the tokens' own: the run matters
  const allm::SoftTokens run{first, count, rows.data(), true};
  std::vector<float> logits(V);
  auto whole = model->make_cache();
  const BatchEntry entry{whole.get(), ids, LogitsMode::last, -1, std::span(&run, 1)};
  model->forward(std::span(&entry, 1), logits.data());
  const auto want = static_cast<int32_t>(std::max_element(logits.begin(), logits.end()) - logits.begin());

  GenerationRequest req;
  req.prompt = ids;
  req.soft_tokens = {run};
  req.prefill_chunk = 4;
  req.max_tokens = 1;
  req.sampling.temperature = 0;
  auto cache = model->make_cache();
  const GenerationResult out = generate(*model, *cache, req);
  ASSERT_EQ(out.tokens.size(), 1u);
  EXPECT_EQ(out.tokens[0], want);
}

TEST_P(SoftTokensTest, BadRangesAreRefusedBeforeTheCacheChanges) {
  Checkpoint ckpt = load_fixture(GetParam().fixture);
  auto model = make_model(ckpt);
  const int64_t V = model->info().vocab_size, H = model->info().hidden_size;
  const auto ids = prompt(10, V);
  std::vector<float> rows(10 * H, 0.5f), logits(V);
  auto cache = model->make_cache();
  const std::vector<std::vector<allm::SoftTokens>> bad = {
      {{8, 4, rows.data(), false}},                           // past the tokens
      {{2, 4, rows.data(), false}, {4, 2, rows.data(), true}},  // overlapping
      {{1, 2, nullptr, false}},                               // no rows
  };
  for (const auto& inputs : bad) {
    const BatchEntry entry{cache.get(), ids, LogitsMode::last, -1, inputs};
    EXPECT_THROW(model->forward(std::span(&entry, 1), logits.data()), InvalidArgumentError);
    EXPECT_EQ(cache->size(), 0);
  }
}

INSTANTIATE_TEST_SUITE_P(Fixtures, SoftTokensTest,
                         ::testing::Values(Case{"llama", 1.0f}, Case{"gemma3", 8.0f}),
                         [](const auto& info) { return info.param.fixture; });

}  // namespace
}  // namespace allm::test
