// Gemma 3 with vision against transformers 5.17 (tests/data/vision/gemma3,
// made by tools/vision/make_gemma3_references.py): the processor's pixel
// values (within 1e-5, at the checkpoint's size and at the published 896x896),
// the projected soft tokens, logits at every position of three prompts (one
// image each, and both in one turn) within 1e-3, and the greedy continuation
// up to the first step whose margin is under 0.05.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "allm/image_resample.hpp"
#include "allm/media.hpp"
#include "allm/safetensors.hpp"
#include "allm/vision.hpp"
#include "engine_test_util.hpp"

namespace allm::test {
namespace {

const std::filesystem::path kDir = std::filesystem::path(ALLM_TEST_DATA_DIR) / "vision" / "gemma3";

template <typename T>
std::vector<T> values(const Tensor& t) {
  std::vector<T> out(static_cast<size_t>(t.numel()));
  std::memcpy(out.data(), t.data, out.size() * sizeof(T));
  return out;
}

double max_diff(const std::vector<float>& a, const std::vector<float>& b) {
  if (a.size() != b.size()) return INFINITY;
  double worst = 0;
  for (size_t i = 0; i < a.size(); ++i) worst = std::max(worst, std::fabs(double(a[i]) - b[i]));
  return worst;
}

ImageData image(const std::string& name) {
  load_arch_plugins();  // the media plugins come with them
  return load_attachment(kDir / name).image;
}

class Gemma3Vision : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    ckpt_ = new Checkpoint(load_checkpoint(kDir));
    model_ = make_model(*ckpt_).release();
    ref_ = new SafetensorsFile(SafetensorsFile::open(kDir / "reference.safetensors"));
  }
  static void TearDownTestSuite() {
    delete model_;
    delete ckpt_;
    delete ref_;
  }
  static Checkpoint* ckpt_;
  static Model* model_;
  static SafetensorsFile* ref_;
};
Checkpoint* Gemma3Vision::ckpt_ = nullptr;
Model* Gemma3Vision::model_ = nullptr;
SafetensorsFile* Gemma3Vision::ref_ = nullptr;

TEST_F(Gemma3Vision, LoadsAsAVisionModel) {
  EXPECT_EQ(ckpt_->model_type, "gemma3");
  ASSERT_NE(model_->vision(), nullptr);
  EXPECT_EQ(model_->vision()->image_marker(), "<start_of_image>");
  EXPECT_EQ(model_->vision()->soft_token_count(image("image_a.png")), 16);
}

TEST_F(Gemma3Vision, PixelValuesMatchTheProcessor) {
  for (const char* name : {"a", "b"}) {
    const ImageData img = image(std::string("image_") + name + ".png");
    const PixelValues px = model_->vision()->preprocess(img);
    ASSERT_EQ(px.channels, 3);
    ASSERT_EQ(px.height, 224);
    const double d = max_diff(px.data, values<float>(ref_->get(std::string("image_") + name + ".pixel_values")));
    std::printf("[ image_%s ] max |pixel diff| = %.3g\n", name, d);
    EXPECT_LE(d, 1e-5) << name;
  }
}

// The published checkpoints' 896x896 (bilinear, mean = std = 0.5): a strided
// sample of the processor's pixel values (every 7th row and column).
TEST_F(Gemma3Vision, PixelValuesAtThePublishedSize) {
  for (const char* name : {"a", "b"}) {
    const ImageData rgb = image_to_rgb(image(std::string("image_") + name + ".png"));
    const ImageData big = resize_image(rgb, 896, 896, ResampleFilter::bilinear);
    std::vector<float> sample;
    for (int c = 0; c < 3; ++c)
      for (int y = 0; y < 896; y += 7)
        for (int x = 0; x < 896; x += 7) sample.push_back((big.pixels[(y * 896 + x) * 3 + c] - 127.5f) / 127.5f);
    const double d = max_diff(sample, values<float>(ref_->get(std::string("image_") + name + ".pixel_values_896_sub")));
    EXPECT_LE(d, 1e-5) << name;
  }
}

TEST_F(Gemma3Vision, SoftTokensMatchTheProjector) {
  for (const char* name : {"a", "b"}) {
    const auto got = model_->vision()->encode(image(std::string("image_") + name + ".png"));
    const double d = max_diff(got, values<float>(ref_->get(std::string("image_") + name + ".image_features")));
    std::printf("[ image_%s ] max |soft token diff| = %.3g\n", name, d);
    EXPECT_LE(d, 1e-4) << name;
  }
}

// Logits of the processor's expanded ids with each image's soft tokens in
// place, then greedy decoding from the cache.
TEST_F(Gemma3Vision, LogitsAndGreedyTokensMatchTransformers) {
  const struct {
    const char* id;
    std::vector<std::string> images;
  } cases[] = {{"a", {"image_a.png"}}, {"b", {"image_b.png"}}, {"ab", {"image_a.png", "image_b.png"}}};
  VisionEncoder& vision = *model_->vision();
  const int64_t V = model_->info().vocab_size;
  for (const auto& c : cases) {
    const auto ids = values<int32_t>(ref_->get(std::string(c.id) + ".input_ids"));
    std::vector<std::vector<float>> rows;
    std::vector<SoftTokens> runs;
    for (const auto& name : c.images) rows.push_back(vision.encode(image(name)));
    for (size_t t = 0, k = 0; t < ids.size(); ++t) {
      if (ids[t] != vision.soft_token_id() || (t > 0 && ids[t - 1] == vision.soft_token_id())) continue;
      ASSERT_LT(k, rows.size()) << c.id;
      runs.push_back({static_cast<int64_t>(t), 16, rows[k++].data(), vision.bidirectional(), 0, 0});
    }
    ASSERT_EQ(runs.size(), c.images.size()) << c.id;
    const auto n = static_cast<int64_t>(ids.size());
    std::vector<float> logits(n * V);
    auto cache = model_->make_cache();
    const BatchEntry entry{cache.get(), ids, LogitsMode::all, -1, runs};
    model_->forward(std::span(&entry, 1), logits.data());
    const double d = max_diff(logits, values<float>(ref_->get(std::string(c.id) + ".logits")));
    std::printf("[ %s ] max |logit diff| = %.3g\n", c.id, d);
    EXPECT_LE(d, 1e-3) << c.id;

    const auto greedy = values<int32_t>(ref_->get(std::string(c.id) + ".greedy_ids"));
    const auto margins = values<float>(ref_->get(std::string(c.id) + ".greedy_margins"));
    std::vector<float> last(logits.end() - V, logits.end());
    for (size_t step = 0; step < greedy.size() && margins[step] >= 0.05f; ++step) {
      const auto next = static_cast<int32_t>(std::max_element(last.begin(), last.end()) - last.begin());
      ASSERT_EQ(next, greedy[step]) << c.id << " step " << step;
      model_->forward(std::vector<int32_t>{next}, *cache, LogitsMode::last, last.data());
    }
  }
}

}  // namespace
}  // namespace allm::test
