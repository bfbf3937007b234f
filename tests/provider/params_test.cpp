#include <gtest/gtest.h>

#include "allm/error.hpp"
#include "allm/provider/generation.hpp"

using allm::GenerationParams;
using nlohmann::json;

TEST(GenerationParams, UnsetFallsBackToModelThenConfig) {
  GenerationParams request;
  request.temperature = 0.1;
  GenerationParams model;
  model.temperature = 0.6;
  model.top_p = 0.8;
  GenerationParams config = GenerationParams::from_json(
      {{"temperature", 0.7}, {"top_p", 0.95}, {"top_k", 40}, {"max_tokens", 512}, {"seed", -1}});
  auto r = allm::resolve_generation_params(request, model, config);
  EXPECT_DOUBLE_EQ(r.temperature, 0.1);  // request
  EXPECT_DOUBLE_EQ(r.top_p, 0.8);        // model
  EXPECT_EQ(r.top_k, 40);                // config
  EXPECT_EQ(r.max_tokens, 512);
  EXPECT_EQ(r.seed, -1);
  EXPECT_FALSE(r.ignore_eos);
  EXPECT_TRUE(r.stop.empty());
}

TEST(GenerationParams, ModelDefaultsComeFromGenerationConfig) {
  allm::GenerationDefaults d;
  d.temperature = 0.6;
  d.top_k = 20;
  auto p = allm::params_from_model_defaults(d);
  EXPECT_EQ(p.temperature, 0.6);
  EXPECT_EQ(p.top_k, 20);
  EXPECT_FALSE(p.top_p.has_value());
  d.do_sample = false;  // greedy, whatever the temperature
  EXPECT_EQ(allm::params_from_model_defaults(d).temperature, 0.0);
}

TEST(GenerationParams, JsonRoundTripKeepsOnlySetFields) {
  auto p = GenerationParams::from_json({{"temperature", 0.2}, {"stop", {"\n\n", "END"}}, {"ignore_eos", true},
                                        {"seed", 7}, {"top_k", nullptr}});
  EXPECT_FALSE(p.top_k.has_value());
  json back = p.to_json();
  EXPECT_EQ(back, json({{"temperature", 0.2}, {"stop", {"\n\n", "END"}}, {"ignore_eos", true}, {"seed", 7}}));
  EXPECT_EQ(GenerationParams::from_json({{"stop", "###"}}).stop, std::vector<std::string>{"###"});
}

TEST(GenerationParams, JsonErrorsNameTheKey) {
  try {
    GenerationParams::from_json({{"top_k", "many"}}, "config generation");
    FAIL();
  } catch (const allm::InvalidArgumentError& e) {
    EXPECT_NE(std::string(e.what()).find("config generation.top_k: expected an integer"), std::string::npos) << e.what();
  }
  EXPECT_THROW(GenerationParams::from_json({{"temprature", 0.1}}), allm::InvalidArgumentError);
  EXPECT_THROW(GenerationParams::from_json({{"max_tokens", 4294967301LL}}), allm::InvalidArgumentError);
  EXPECT_THROW(GenerationParams::from_json({{"max_tokens", 1.5}}), allm::InvalidArgumentError);
  EXPECT_THROW(GenerationParams::from_json({{"stop", {1, 2}}}), allm::InvalidArgumentError);
  EXPECT_THROW(GenerationParams::from_json(json::array()), allm::InvalidArgumentError);
}

TEST(GenerationParams, RangesAreChecked) {
  auto bad = [](json j) {
    try {
      GenerationParams::from_json(j).validate("p");
    } catch (const allm::InvalidArgumentError& e) {
      return std::string(e.what());
    }
    return std::string("valid");
  };
  EXPECT_NE(bad({{"temperature", -0.5}}).find("p.temperature"), std::string::npos);
  EXPECT_NE(bad({{"top_p", 0}}).find("p.top_p"), std::string::npos);
  EXPECT_NE(bad({{"top_p", 1.5}}).find("p.top_p"), std::string::npos);
  EXPECT_NE(bad({{"min_p", 2}}).find("p.min_p"), std::string::npos);
  EXPECT_NE(bad({{"max_tokens", 0}}).find("p.max_tokens"), std::string::npos);
  EXPECT_NE(bad({{"seed", -2}}).find("p.seed"), std::string::npos);
  EXPECT_NE(bad({{"stop", {"ok", ""}}}).find("p.stop[1]"), std::string::npos);
  EXPECT_NE(bad({{"repetition_penalty", 0}}).find("p.repetition_penalty"), std::string::npos);
  EXPECT_EQ(bad({{"temperature", 0}, {"top_p", 1}, {"top_k", 0}, {"seed", -1}}), "valid");
}

TEST(TruncationPolicy, Names) {
  for (auto p : {allm::TruncationPolicy::error, allm::TruncationPolicy::drop_oldest, allm::TruncationPolicy::truncate_left})
    EXPECT_EQ(allm::truncation_policy_from_name(allm::truncation_policy_name(p)), p);
  EXPECT_THROW(allm::truncation_policy_from_name("drop_newest"), allm::InvalidArgumentError);
}
