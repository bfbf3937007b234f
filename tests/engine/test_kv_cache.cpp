// Decoding through the KV cache must equal one full forward pass, however the
// sequence is split, and a truncated cache must behave like a fresh one.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "allm/error.hpp"
#include "engine_test_util.hpp"

namespace allm::test {
namespace {

std::vector<int32_t> prompt() { return {5, 17, 250, 3, 99, 400, 12, 7, 300, 45, 8, 1, 2, 77, 140, 6}; }

// Logits of every position computed chunk by chunk (chunk sizes cycle through `chunks`).
std::vector<float> chunked(Model& m, const std::vector<int32_t>& ids, const std::vector<size_t>& chunks) {
  const int64_t V = m.info().vocab_size;
  std::vector<float> out(ids.size() * V);
  auto cache = m.make_cache(4);  // small on purpose: the cache must grow
  size_t at = 0, c = 0;
  while (at < ids.size()) {
    const size_t len = std::min(chunks[c++ % chunks.size()], ids.size() - at);
    m.forward(std::span<const int32_t>(ids.data() + at, len), *cache, LogitsMode::all, out.data() + at * V);
    at += len;
  }
  EXPECT_EQ(cache->size(), static_cast<int64_t>(ids.size()));
  return out;
}

class KVCacheDecode : public ::testing::TestWithParam<std::string> {};

TEST_P(KVCacheDecode, IncrementalEqualsFullForward) {
  Checkpoint ckpt = load_fixture(GetParam());
  auto model = make_model(ckpt);
  const auto ids = prompt();
  const auto full = chunked(*model, ids, {ids.size()});
  EXPECT_LT(max_diff(full, chunked(*model, ids, {1})), 1e-4) << "token by token";
  EXPECT_LT(max_diff(full, chunked(*model, ids, {3, 1, 5})), 1e-4) << "mixed chunks";
}

// Sliding-window and MoE models included: windows must count cached positions.
INSTANTIATE_TEST_SUITE_P(Fixtures, KVCacheDecode,
                         ::testing::Values("llama", "mistral", "gemma2", "gemma3", "phi3", "qwen3_moe", "qwen3-mlx4",
                                           "granite", "smollm3", "olmo2", "gpt_oss"),
                         [](const auto& info) {
                           std::string n = info.param;
                           for (auto& ch : n)
                             if (ch == '-') ch = '_';
                           return n;
                         });

TEST(KVCache, TruncateRewindsToAPrefix) {
  Checkpoint ckpt = load_fixture("qwen3");
  auto model = make_model(ckpt);
  const int64_t V = model->info().vocab_size;
  const auto ids = prompt();
  std::vector<float> a(V), b(V);
  auto cache = model->make_cache();
  model->forward(ids, *cache, LogitsMode::last, a.data());
  // Rewind to 10 tokens, feed a different suffix, rewind again and replay the original.
  cache->truncate(10);
  model->forward(std::vector<int32_t>{1, 2, 3}, *cache, LogitsMode::last, b.data());
  EXPECT_GT(max_diff(a, b), 1e-3);
  cache->truncate(10);
  model->forward(std::span<const int32_t>(ids.data() + 10, ids.size() - 10), *cache, LogitsMode::last, b.data());
  EXPECT_LT(max_diff(a, b), 1e-4);
  EXPECT_THROW(cache->truncate(cache->size() + 1), InvalidArgumentError);
}

TEST(KVCache, ContextWindowIsEnforced) {
  Checkpoint ckpt = load_fixture("llama");
  auto model = make_model(ckpt);
  const int64_t ctx = model->info().context_length;
  auto cache = model->make_cache();
  std::vector<int32_t> ids(static_cast<size_t>(ctx), 1);
  std::vector<float> logits(model->info().vocab_size);
  model->forward(ids, *cache, LogitsMode::last, logits.data());
  EXPECT_EQ(cache->size(), ctx);
  EXPECT_THROW(model->forward(std::vector<int32_t>{1}, *cache, LogitsMode::last, logits.data()), ContextWindowError);
}

TEST(Model, RejectsTokenIdsOutsideTheVocabulary) {
  Checkpoint ckpt = load_fixture("llama");
  auto model = make_model(ckpt);
  auto cache = model->make_cache();
  std::vector<float> logits(model->info().vocab_size);
  EXPECT_THROW(model->forward(std::vector<int32_t>{1, 512}, *cache, LogitsMode::last, logits.data()),
               InvalidArgumentError);
  EXPECT_THROW(model->forward(std::vector<int32_t>{-1}, *cache, LogitsMode::last, logits.data()), InvalidArgumentError);
  EXPECT_EQ(cache->size(), 0);
}

TEST(Model, ThreadCountDoesNotChangeResults) {
  Checkpoint ckpt = load_fixture("qwen3-bf16");
  auto one = make_model(ckpt, 1), two = make_model(ckpt, 2);
  const auto ids = prompt();
  EXPECT_LT(max_diff(chunked(*one, ids, {ids.size()}), chunked(*two, ids, {ids.size()})), 1e-5);
}

}  // namespace
}  // namespace allm::test
