// KV caches stored in F16 and Q8_0: a 40-token greedy generation decoded from
// them keeps the F32 top-1 token wherever the F32 lead is over 0.3, on every
// fixture checkpoint; their worst logit deviation is printed (docs/engine.md
// quotes it). Their bytes per position: F16 half of F32, Q8_0 at most 0.3x.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "allm/error.hpp"
#include "allm/kv_format.hpp"
#include "engine_test_util.hpp"

namespace allm::test {
namespace {

struct Top2 {
  int32_t best;
  float lead;
};

Top2 top2(const std::vector<float>& v) {
  int32_t a = 0, b = -1;
  for (int32_t i = 1; i < static_cast<int32_t>(v.size()); ++i) {
    if (v[i] > v[a]) {
      b = a;
      a = i;
    } else if (b < 0 || v[i] > v[b]) {
      b = i;
    }
  }
  return {a, v[a] - v[b]};
}

class KVTypes : public ::testing::TestWithParam<std::string> {};

TEST_P(KVTypes, KeepTheTopTokenWhereTheLeadIsClear) {
  Checkpoint ckpt = load_fixture(GetParam());
  auto model = make_model(ckpt);
  const int64_t V = model->info().vocab_size;
  std::vector<int32_t> prompt;
  for (int i = 0; i < 12; ++i) prompt.push_back(static_cast<int32_t>((i * 37 + 5) % V));

  auto exact = std::make_unique<KVCache>(model->make_pool(0, KVType::f32));
  auto half = std::make_unique<KVCache>(model->make_pool(0, KVType::f16));
  auto q8 = std::make_unique<KVCache>(model->make_pool(0, KVType::q8_0));
  std::vector<float> le(static_cast<size_t>(V)), lh(le.size()), lq(le.size());
  double worst_f16 = 0, worst_q8 = 0;
  int checked = 0;
  std::vector<int32_t> feed = prompt;
  for (int step = 0; step < 40; ++step) {
    model->forward(feed, *exact, LogitsMode::last, le.data());
    model->forward(feed, *half, LogitsMode::last, lh.data());
    model->forward(feed, *q8, LogitsMode::last, lq.data());
    for (int64_t j = 0; j < V; ++j) {
      worst_f16 = std::max(worst_f16, double(std::fabs(lh[j] - le[j])));
      worst_q8 = std::max(worst_q8, double(std::fabs(lq[j] - le[j])));
    }
    const Top2 t = top2(le);
    if (t.lead > 0.3f) {
      ++checked;
      EXPECT_EQ(top2(lh).best, t.best) << "f16, step " << step << ", lead " << t.lead;
      EXPECT_EQ(top2(lq).best, t.best) << "q8_0, step " << step << ", lead " << t.lead;
    }
    feed = {t.best};  // all three follow the F32 continuation
  }
  EXPECT_TRUE(std::isfinite(worst_f16) && std::isfinite(worst_q8));
  std::printf("[ %s ] worst |logit - f32 KV|: f16 %.3g, q8_0 %.3g (%d steps with lead > 0.3)\n",
              GetParam().c_str(), worst_f16, worst_q8, checked);
}

INSTANTIATE_TEST_SUITE_P(AllFixtures, KVTypes,
                         ::testing::Values("llama", "mistral", "qwen2", "qwen3", "gemma2", "gemma3", "phi3", "mixtral",
                                           "qwen3_moe", "llama-bf16", "qwen3-bf16", "llama-mlx4", "qwen3-mlx4",
                                           "llama-mlx8", "qwen3-mlx8", "llama-mlx-mixed", "granite", "smollm3",
                                           "olmo2", "gpt_oss"),
                         [](const auto& info) {
                           std::string n = info.param;
                           std::replace(n.begin(), n.end(), '-', '_');
                           return n;
                         });

TEST(KVTypes, BytesPerPositionAndNames) {
  const KVShape shape{28, 8, 128, 4096};  // Qwen3-0.6B
  const double f32 = static_cast<double>(KVPool(shape, 0, KVType::f32).bytes_per_position());
  EXPECT_EQ(f32, 28.0 * 2 * 8 * 128 * 4);
  EXPECT_EQ(KVPool(shape, 0, KVType::f16).bytes_per_position() / f32, 0.5);
  EXPECT_LE(KVPool(shape, 0, KVType::q8_0).bytes_per_position() / f32, 0.3);
  EXPECT_EQ(parse_kv_type("Q8_0", "x"), KVType::q8_0);
  EXPECT_THROW(parse_kv_type("q4", "--kv-type"), InvalidArgumentError);
}

TEST(KVTypes, RowsRoundTripWithinTheirPrecision) {
  std::vector<float> row(80), back(80);  // 80: a Q8_0 row with a short last group
  for (size_t i = 0; i < row.size(); ++i) row[i] = std::sin(static_cast<float>(i) * 0.7f) * (i % 7 == 0 ? 30.0f : 1.0f);
  for (KVType t : {KVType::f32, KVType::f16, KVType::q8_0}) {
    std::vector<uint8_t> stored(static_cast<size_t>(kv_row_bytes(t, 80)));
    kv_encode_row(t, row.data(), 80, stored.data());
    kv_decode_row(t, stored.data(), 80, back.data());
    for (size_t i = 0; i < row.size(); ++i) {
      const float bound = t == KVType::f32 ? 0.0f : t == KVType::f16 ? std::fabs(row[i]) / 1024 : 30.0f / 127 / 2 * 1.001f;
      EXPECT_LE(std::fabs(back[i] - row[i]), bound) << kv_type_name(t) << " value " << i;
    }
  }
}

}  // namespace
}  // namespace allm::test
