// Qwen2.5-VL's language model against transformers on the expanded prompts
// (one image, the other image after a system turn, both images in one turn):
// the image embeddings transformers fed it stand for the <|image_pad|> runs,
// laid out on their merged patch grids (M-RoPE). Logits at every position
// within 1e-3 (both config spellings), the greedy continuation decoded from
// the cache up to the first margin under 0.05, and the same logits when the
// prompt is fed in chunks that end after an image or rewinds into one.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>

#include "allm/architecture.hpp"
#include "allm/model_loader.hpp"
#include "allm/registry.hpp"
#include "allm/safetensors.hpp"
#include "../common/arch_plugins.hpp"

namespace allm {
namespace {

const std::filesystem::path kDir = std::filesystem::path(ALLM_TEST_DATA_DIR) / "vision" / "qwen2_5_vl";
constexpr int32_t kImagePad = 521;  // <|image_pad|> in the fixture's tokenizer

template <class T>
std::vector<T> values(const Tensor& t) {
  const T* p = static_cast<const T*>(t.data);
  return std::vector<T>(p, p + t.numel());
}

std::unique_ptr<Model> make_model(bool v5) {
  test::load_arch_plugins();
  Checkpoint ckpt = load_checkpoint(kDir);
  if (v5) ckpt.config = read_config_file(kDir / "config.v5.json");
  ArchitectureFactory* f = Registry::instance().architecture(ckpt.model_type);
  if (!f) throw std::runtime_error("no architecture plugin for " + ckpt.model_type);
  return f->create(ckpt, ModelOptions{2, nullptr});
}

struct Prompt {
  std::vector<int32_t> ids;
  std::vector<float> rows;
  std::vector<SoftTokens> soft;  // rows point into `rows`
};

// The case's prompt with one SoftTokens per image run, in order.
Prompt prompt_of(const SafetensorsFile& ref, const std::string& c) {
  Prompt p;
  p.ids = values<int32_t>(ref.get(c + ".input_ids"));
  p.rows = values<float>(ref.get(c + ".image_embeds"));
  const auto thw = values<int32_t>(ref.get(c + ".image_grid_thw"));
  int64_t row = 0, image = 0;
  for (int64_t t = 0; t < static_cast<int64_t>(p.ids.size());) {
    if (p.ids[t] != kImagePad) {
      ++t;
      continue;
    }
    int64_t end = t;
    while (end < static_cast<int64_t>(p.ids.size()) && p.ids[end] == kImagePad) ++end;
    SoftTokens s;
    s.index = t;
    s.count = end - t;
    s.grid_h = thw[image * 3 + 1] / 2;
    s.grid_w = thw[image * 3 + 2] / 2;
    s.rows = p.rows.data() + row * 64;
    EXPECT_EQ(s.grid_h * s.grid_w, s.count);
    p.soft.push_back(s);
    row += s.count;
    ++image;
    t = end;
  }
  EXPECT_EQ(row * 64, static_cast<int64_t>(p.rows.size()));
  return p;
}

double max_diff(const float* a, const float* b, size_t n) {
  double worst = 0;
  for (size_t i = 0; i < n; ++i) worst = std::max(worst, std::fabs(double(a[i]) - b[i]));
  return worst;
}

int32_t argmax(const float* v, int64_t n) { return static_cast<int32_t>(std::max_element(v, v + n) - v); }

class LanguageModelRef : public ::testing::TestWithParam<std::tuple<const char*, bool>> {};

TEST_P(LanguageModelRef, MatchesTransformers) {
  const auto& [c, v5] = GetParam();
  auto model = make_model(v5);
  auto ref = SafetensorsFile::open(kDir / "reference.safetensors");
  const Prompt p = prompt_of(ref, c);
  const int64_t vocab = model->info().vocab_size, n = static_cast<int64_t>(p.ids.size());
  const auto want = values<float>(ref.get(std::string(c) + ".logits"));
  ASSERT_EQ(static_cast<int64_t>(want.size()), n * vocab);

  auto cache = model->make_cache();
  std::vector<float> logits(static_cast<size_t>(n * vocab));
  const BatchEntry entry{cache.get(), p.ids, LogitsMode::all, -1, p.soft};
  model->forward(std::span<const BatchEntry>(&entry, 1), logits.data());
  const double d = max_diff(logits.data(), want.data(), want.size());
  std::printf("[ %s%s ] %lld tokens, %zu images, max |logit diff| = %.3g\n", c, v5 ? " v5" : "",
              static_cast<long long>(n), p.soft.size(), d);
  EXPECT_LT(d, 1e-3);

  // Greedy decoding from the cache: text positions continue after the images.
  const auto greedy = values<int32_t>(ref.get(std::string(c) + ".greedy_ids"));
  const auto margins = values<float>(ref.get(std::string(c) + ".greedy_margins"));
  std::vector<float> last(static_cast<size_t>(vocab));
  int32_t next = argmax(logits.data() + (n - 1) * vocab, vocab);
  size_t checked = 0;
  for (size_t step = 0; step < greedy.size() && margins[step] >= 0.05f; ++step, ++checked) {
    ASSERT_EQ(next, greedy[step]) << c << " step " << step;
    model->forward(std::vector<int32_t>{next}, *cache, LogitsMode::last, last.data());
    next = argmax(last.data(), vocab);
  }
  std::printf("[ %s%s ] greedy tokens equal for %zu steps (the margins allow %zu)\n", c, v5 ? " v5" : "", checked,
              checked);
}

INSTANTIATE_TEST_SUITE_P(Cases, LanguageModelRef,
                         ::testing::Combine(::testing::Values("a", "b", "ab"), ::testing::Bool()),
                         [](const auto& info) {
                           return std::string(std::get<0>(info.param)) + (std::get<1>(info.param) ? "_v5" : "");
                         });

// The prompt in two forward calls split after the first image, then a rewind
// to just after it and the rest again: the cache's M-RoPE shift carries the
// text positions across calls and survives (or goes with) truncation.
TEST(LanguageModel, ChunksAndRewindsKeepPositions) {
  auto model = make_model(false);
  auto ref = SafetensorsFile::open(kDir / "reference.safetensors");
  const Prompt p = prompt_of(ref, "ab");
  const int64_t vocab = model->info().vocab_size, n = static_cast<int64_t>(p.ids.size());
  const auto want = values<float>(ref.get("ab.logits"));
  const int64_t split = p.soft[0].index + p.soft[0].count + 1;  // just after the first image and one token
  auto cache = model->make_cache();
  std::vector<float> last(static_cast<size_t>(vocab));

  auto feed_rest = [&](int64_t from) {
    std::vector<SoftTokens> soft;
    for (SoftTokens s : p.soft)
      if (s.index >= from) {
        s.index -= from;
        soft.push_back(s);
      }
    const std::span<const int32_t> rest(p.ids.data() + from, static_cast<size_t>(n - from));
    const BatchEntry e{cache.get(), rest, LogitsMode::last, from, soft};
    model->forward(std::span<const BatchEntry>(&e, 1), last.data());
    return max_diff(last.data(), want.data() + (n - 1) * vocab, static_cast<size_t>(vocab));
  };
  const BatchEntry first{cache.get(), std::span<const int32_t>(p.ids.data(), static_cast<size_t>(split)),
                         LogitsMode::last, -1, std::span<const SoftTokens>(p.soft.data(), 1)};
  model->forward(std::span<const BatchEntry>(&first, 1), last.data());
  EXPECT_LT(max_diff(last.data(), want.data() + (split - 1) * vocab, static_cast<size_t>(vocab)), 1e-3);
  EXPECT_LT(feed_rest(split), 1e-3) << "second chunk";
  EXPECT_LT(feed_rest(split - 1), 1e-3) << "rewound to just after the first image";
  EXPECT_LT(feed_rest(p.soft[0].index), 1e-3) << "rewound to the first image";
  EXPECT_LT(feed_rest(0), 1e-3) << "rewound to the start";

  // A forked prefix keeps the shift too.
  auto fork = cache->fork(split);
  const std::span<const int32_t> rest(p.ids.data() + split, static_cast<size_t>(n - split));
  std::vector<SoftTokens> soft = {p.soft[1]};
  soft[0].index -= split;
  const BatchEntry e{fork.get(), rest, LogitsMode::last, -1, soft};
  model->forward(std::span<const BatchEntry>(&e, 1), last.data());
  EXPECT_LT(max_diff(last.data(), want.data() + (n - 1) * vocab, static_cast<size_t>(vocab)), 1e-3) << "fork";
}

TEST(LanguageModel, GridThatDoesNotHoldTheRowsIsRefused) {
  auto model = make_model(false);
  auto ref = SafetensorsFile::open(kDir / "reference.safetensors");
  Prompt p = prompt_of(ref, "a");
  p.soft[0].grid_w += 1;
  auto cache = model->make_cache();
  std::vector<float> last(static_cast<size_t>(model->info().vocab_size));
  const BatchEntry e{cache.get(), p.ids, LogitsMode::last, -1, p.soft};
  EXPECT_THROW(model->forward(std::span<const BatchEntry>(&e, 1), last.data()), InvalidArgumentError);
  EXPECT_EQ(cache->size(), 0);
}

}  // namespace
}  // namespace allm
