// Qwen2.5-VL's vision tower against transformers: on the processor's pixel
// values of both test images (different sizes and aspect ratios, windows that
// need padding on one or both sides), the patch embedding and the merged
// output (what stands for the <|image_pad|> tokens) within 1e-4.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>

#include "allm/arch_helpers.hpp"
#include "allm/error.hpp"
#include "allm/model_loader.hpp"
#include "allm/safetensors.hpp"
#include "vision_tower.hpp"

namespace allm::qwen_vl {
namespace {

const std::filesystem::path kDir = std::filesystem::path(ALLM_TEST_DATA_DIR) / "vision" / "qwen2_5_vl";

template <class T>
std::vector<T> values(const Tensor& t) {
  const T* p = static_cast<const T*>(t.data);
  return std::vector<T>(p, p + t.numel());
}

double max_diff(const std::vector<float>& a, const std::vector<float>& b) {
  EXPECT_EQ(a.size(), b.size());
  double worst = 0;
  for (size_t i = 0; i < std::min(a.size(), b.size()); ++i) worst = std::max(worst, std::fabs(double(a[i]) - b[i]));
  return worst;
}

class VisionTowerRef : public ::testing::TestWithParam<const char*> {};

TEST_P(VisionTowerRef, MatchesTransformers) {
  const std::string image = GetParam();
  for (bool v5 : {false, true}) {
    Checkpoint ckpt = load_checkpoint(kDir);
    if (v5) ckpt.config = read_config_file(kDir / "config.v5.json");
    ConfigView cfg(ckpt);
    VisionTower tower(ckpt, VisionSpec::from_config(cfg), "visual.", 2);
    auto ref = SafetensorsFile::open(kDir / "reference.safetensors");
    const auto pixels = values<float>(ref.get(image + ".pixel_values"));
    const auto thw = values<int32_t>(ref.get(image + ".image_grid_thw"));
    const PatchGrid grid{thw[0], thw[1], thw[2]};
    const auto got = tower.forward(pixels.data(), grid);
    const auto want = values<float>(ref.get(image + ".image_embeds"));
    const double d = max_diff(got, want);
    std::printf("[ %s%s ] %lld patches -> %zu soft tokens, max |diff| = %.3g\n", image.c_str(), v5 ? " v5" : "",
                static_cast<long long>(grid.patches()), got.size() / 64, d);
    EXPECT_LT(d, 1e-4) << image;
  }
}

INSTANTIATE_TEST_SUITE_P(BothImages, VisionTowerRef, ::testing::Values("image_a", "image_b"));

TEST(VisionTower, BadConfigAndGridAreRefusedByName) {
  Checkpoint ckpt = load_checkpoint(kDir);
  auto expect_key = [&](const char* key, auto mutate) {
    Checkpoint bad = ckpt;
    mutate(bad.config);
    try {
      ConfigView cfg(bad);
      VisionTower tower(bad, VisionSpec::from_config(cfg), "visual.", 1);
      FAIL() << "no error for " << key;
    } catch (const ModelLoadError& e) {
      EXPECT_NE(std::string(e.what()).find(key), std::string::npos) << e.what();
    }
  };
  expect_key("vision_config", [](nlohmann::json& c) { c.erase("vision_config"); });
  expect_key("vision_config.depth", [](nlohmann::json& c) { c["vision_config"]["depth"] = -1; });
  expect_key("vision_config.fullatt_block_indexes",
             [](nlohmann::json& c) { c["vision_config"]["fullatt_block_indexes"] = {1, 9}; });
  expect_key("vision_config.hidden_act", [](nlohmann::json& c) { c["vision_config"]["hidden_act"] = "relu"; });
  expect_key("visual.patch_embed.proj.weight", [](nlohmann::json& c) { c["vision_config"]["hidden_size"] = 32; });

  ConfigView cfg(ckpt);
  VisionTower tower(ckpt, VisionSpec::from_config(cfg), "visual.", 1);
  std::vector<float> pixels(3 * 6 * 1176);
  EXPECT_THROW(tower.forward(pixels.data(), PatchGrid{1, 3, 6}), InvalidArgumentError);
}

}  // namespace
}  // namespace allm::qwen_vl
