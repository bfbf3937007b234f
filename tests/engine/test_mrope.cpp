// Multimodal rope (M-RoPE, rope_scaling.mrope_section): read from the config
// and run by the decoder as one masked rotation per position component. With
// text only, every component equals the position, so the logits must be those
// of the ordinary rope; a section list that does not cover the frequencies is
// a load error naming the key.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "allm/arch_helpers.hpp"
#include "allm/decoder.hpp"
#include "allm/error.hpp"
#include "engine_test_util.hpp"

namespace allm {
namespace {

std::vector<float> logits_of(Model& m, const std::vector<int32_t>& ids) {
  auto cache = m.make_cache();
  std::vector<float> out(ids.size() * static_cast<size_t>(m.info().vocab_size));
  m.forward(ids, *cache, LogitsMode::all, out.data());
  return out;
}

std::unique_ptr<Model> qwen2_with_sections(const Checkpoint& ckpt, std::vector<int64_t> sections) {
  ConfigView cfg(ckpt);
  DecoderSpec spec = llama_like_spec(cfg);
  spec.ropes[0].sections = std::move(sections);
  StandardLayerNames names;
  names.qkv_bias = true;
  return make_decoder_model(spec, bind_standard(ckpt, spec, names, false), ModelOptions{2, nullptr});
}

TEST(MRope, TextOnlyEqualsOrdinaryRope) {
  const Checkpoint ckpt = test::load_fixture("qwen2");  // head_dim 16: 8 frequencies
  const std::vector<int32_t> ids = {5, 17, 300, 42, 7, 99, 150, 3, 64, 200, 11, 480};
  auto plain = qwen2_with_sections(ckpt, {});
  const auto want = logits_of(*plain, ids);
  for (const std::vector<int64_t>& sections : {std::vector<int64_t>{2, 3, 3}, {8}, {1, 0, 7}, {4, 4}}) {
    auto sectioned = qwen2_with_sections(ckpt, sections);
    const auto got = logits_of(*sectioned, ids);
    ASSERT_EQ(got.size(), want.size());
    double worst = 0;
    for (size_t i = 0; i < got.size(); ++i) worst = std::max(worst, std::fabs(double(got[i]) - want[i]));
    EXPECT_LT(worst, 1e-5) << "sections of " << sections.size();
  }
}

TEST(MRope, SectionsMustCoverTheFrequencies) {
  const Checkpoint ckpt = test::load_fixture("qwen2");
  EXPECT_THROW(qwen2_with_sections(ckpt, {2, 3, 2}), ModelLoadError);

  Checkpoint bad = ckpt;
  bad.config["rope_scaling"] = {{"rope_type", "mrope"}, {"mrope_section", {2, 3, 4}}};
  try {
    ConfigView cfg(bad);
    (void)llama_like_spec(cfg);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("mrope_section"), std::string::npos) << e.what();
  }
  Checkpoint good = ckpt;
  good.config["rope_scaling"] = {{"rope_type", "mrope"}, {"mrope_section", {2, 3, 3}}};
  ConfigView cfg(good);
  const DecoderSpec spec = llama_like_spec(cfg);
  EXPECT_EQ(spec.ropes[0].sections, (std::vector<int64_t>{2, 3, 3}));
}

}  // namespace
}  // namespace allm
