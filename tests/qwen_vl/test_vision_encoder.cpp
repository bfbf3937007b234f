// Qwen2.5-VL as a model that sees (Model::vision()), from the PNG files on:
// the processor's pixel values within 1e-5 (smart_resize within
// min/max_pixels, torchvision's bicubic, fused rescale/normalise, patches in
// merge order), the tower's soft tokens, and the logits and greedy tokens of
// every reference prompt with the encoder's own soft tokens in place; bad
// images are one clear MediaError.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>

#include "allm/architecture.hpp"
#include "allm/error.hpp"
#include "allm/media.hpp"
#include "allm/model_loader.hpp"
#include "allm/registry.hpp"
#include "allm/safetensors.hpp"
#include "allm/vision.hpp"
#include "../common/arch_plugins.hpp"

namespace allm {
namespace {

const std::filesystem::path kDir = std::filesystem::path(ALLM_TEST_DATA_DIR) / "vision" / "qwen2_5_vl";

template <class T>
std::vector<T> values(const Tensor& t) {
  const T* p = static_cast<const T*>(t.data);
  return std::vector<T>(p, p + t.numel());
}

double max_diff(const std::vector<float>& a, const std::vector<float>& b) {
  if (a.size() != b.size()) return INFINITY;
  double worst = 0;
  for (size_t i = 0; i < a.size(); ++i) worst = std::max(worst, std::fabs(double(a[i]) - b[i]));
  return worst;
}

ImageData image(const std::string& name) {
  test::load_arch_plugins();  // the media plugins come with them
  return load_attachment(kDir / name).image;
}

class QwenVision : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    test::load_arch_plugins();
    const Checkpoint ckpt = load_checkpoint(kDir);
    model_ = Registry::instance().architecture(ckpt.model_type)->create(ckpt, ModelOptions{2, nullptr}).release();
    ref_ = new SafetensorsFile(SafetensorsFile::open(kDir / "reference.safetensors"));
  }
  static void TearDownTestSuite() {
    delete model_;
    delete ref_;
  }
  static Model* model_;
  static SafetensorsFile* ref_;
};
Model* QwenVision::model_ = nullptr;
SafetensorsFile* QwenVision::ref_ = nullptr;

TEST_F(QwenVision, LoadsAsAVisionModel) {
  ASSERT_NE(model_->vision(), nullptr);
  VisionEncoder& v = *model_->vision();
  EXPECT_EQ(v.image_marker(), "<|image_pad|>");
  EXPECT_EQ(v.soft_token_id(), 521);
  EXPECT_FALSE(v.bidirectional());
  EXPECT_EQ(v.soft_token_count(image("image_a.png")), 24);  // 200x133 -> 168x112 (max_pixels) -> 12x8 patches / 4
  EXPECT_EQ(v.soft_token_count(image("image_b.png")), 21);  // 75x190 -> 84x196 -> 6x14 patches / 4
  EXPECT_EQ(v.soft_token_grid(image("image_a.png")), (std::pair<int64_t, int64_t>{4, 6}));
  std::string expanded = v.expand_marker(image("image_b.png"));
  EXPECT_EQ(expanded.size(), 21 * std::string("<|image_pad|>").size());
}

TEST_F(QwenVision, PixelValuesMatchTheProcessor) {
  for (const char* name : {"image_a", "image_b"}) {
    const PixelValues px = model_->vision()->preprocess(image(std::string(name) + ".png"));
    const auto thw = values<int32_t>(ref_->get(std::string(name) + ".image_grid_thw"));
    EXPECT_EQ(px.grid, (std::vector<int64_t>{thw[0], thw[1], thw[2]})) << name;
    const double d = max_diff(px.data, values<float>(ref_->get(std::string(name) + ".pixel_values")));
    std::printf("[ %s ] max |pixel diff| = %.3g\n", name, d);
    EXPECT_LE(d, 1e-5) << name;
  }
}

TEST_F(QwenVision, SoftTokensMatchTheTower) {
  for (const char* name : {"image_a", "image_b"}) {
    const auto got = model_->vision()->encode(image(std::string(name) + ".png"));
    const double d = max_diff(got, values<float>(ref_->get(std::string(name) + ".image_embeds")));
    std::printf("[ %s ] max |soft token diff| = %.3g\n", name, d);
    EXPECT_LE(d, 1e-4) << name;
  }
}

TEST_F(QwenVision, LogitsAndGreedyTokensFromTheImages) {
  VisionEncoder& vision = *model_->vision();
  const int64_t V = model_->info().vocab_size;
  const std::pair<std::string, std::vector<std::string>> cases[] = {
      {"a", {"image_a.png"}},        {"b", {"image_b.png"}},
      {"ab", {"image_a.png", "image_b.png"}}, {"b_first", {"image_b.png"}},
      {"ab_first", {"image_a.png", "image_b.png"}}};
  for (const auto& [c, names] : cases) {
    // The images-first prompts came with a later run of the generator.
    if (c.find("_first") != std::string::npos && !ref_->find(c + ".input_ids")) continue;
    const auto ids = values<int32_t>(ref_->get(c + ".input_ids"));
    std::vector<std::vector<float>> rows;
    std::vector<SoftTokens> runs;
    for (const auto& name : names) {
      const ImageData img = image(name);
      rows.push_back(vision.encode(img));
      const auto [gh, gw] = vision.soft_token_grid(img);
      SoftTokens s;
      s.count = vision.soft_token_count(img);
      s.rows = rows.back().data();
      s.grid_h = gh;
      s.grid_w = gw;
      runs.push_back(s);
    }
    size_t k = 0;
    for (size_t t = 0; t < ids.size(); ++t)
      if (ids[t] == vision.soft_token_id() && (t == 0 || ids[t - 1] != vision.soft_token_id())) {
        ASSERT_LT(k, runs.size()) << c;
        runs[k++].index = static_cast<int64_t>(t);
      }
    ASSERT_EQ(k, runs.size()) << c;
    const auto n = static_cast<int64_t>(ids.size());
    std::vector<float> logits(static_cast<size_t>(n * V));
    auto cache = model_->make_cache();
    const BatchEntry entry{cache.get(), ids, LogitsMode::all, -1, runs};
    model_->forward(std::span(&entry, 1), logits.data());
    const double d = max_diff(logits, values<float>(ref_->get(c + ".logits")));
    std::printf("[ %s ] max |logit diff| = %.3g\n", c.c_str(), d);
    EXPECT_LE(d, 1e-3) << c;

    const auto greedy = values<int32_t>(ref_->get(c + ".greedy_ids"));
    const auto margins = values<float>(ref_->get(c + ".greedy_margins"));
    std::vector<float> last(logits.end() - V, logits.end());
    for (size_t step = 0; step < greedy.size() && margins[step] >= 0.05f; ++step) {
      const auto next = static_cast<int32_t>(std::max_element(last.begin(), last.end()) - last.begin());
      ASSERT_EQ(next, greedy[step]) << c << " step " << step;
      model_->forward(std::vector<int32_t>{next}, *cache, LogitsMode::last, last.data());
    }
  }
}

TEST_F(QwenVision, BadImagesAreOneClearError) {
  VisionEncoder& v = *model_->vision();
  ImageData tiny;
  tiny.width = 20;
  tiny.height = 40;
  tiny.channels = 3;
  tiny.pixels.assign(20 * 40 * 3, 7);
  try {
    (void)v.preprocess(tiny);
    FAIL() << "a 20x40 image was taken";
  } catch (const MediaError& e) {
    EXPECT_NE(std::string(e.what()).find("20x40"), std::string::npos) << e.what();
  }
  EXPECT_THROW((void)v.soft_token_count(tiny), MediaError);
  ImageData thin = tiny;
  thin.width = 6000;
  thin.height = 29;
  thin.pixels.assign(6000 * 29 * 3, 7);
  EXPECT_THROW((void)v.preprocess(thin), MediaError);
  PixelValues wrong;
  wrong.channels = 3;
  wrong.height = 28;
  wrong.width = 28;
  wrong.data.assign(3 * 28 * 28, 0.0f);
  EXPECT_THROW((void)v.encode(wrong), InvalidArgumentError);
}

}  // namespace
}  // namespace allm
