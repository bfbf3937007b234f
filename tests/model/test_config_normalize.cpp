// Config normalisation, architecture detection and generation defaults.
#include <gtest/gtest.h>

#include "allm/error.hpp"
#include "allm/model_loader.hpp"
#include "allm/safetensors.hpp"
#include "test_util.hpp"
#include "../common/arch_plugins.hpp"

namespace allm::test {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

TEST(NormalizeConfig, FoldsRopeParametersIntoThetaAndScaling) {
  json v5 = {{"model_type", "llama"},
             {"rope_parameters",
              {{"rope_type", "yarn"}, {"rope_theta", 1e6}, {"factor", 4.0}, {"original_max_position_embeddings", 32768}}}};
  json n = normalize_config(v5);
  EXPECT_FALSE(n.contains("rope_parameters"));
  EXPECT_DOUBLE_EQ(n["rope_theta"].get<double>(), 1e6);
  EXPECT_EQ(n["rope_scaling"], (json{{"rope_type", "yarn"}, {"factor", 4.0}, {"original_max_position_embeddings", 32768}}));
}

TEST(NormalizeConfig, DefaultRopeTypeMeansNoScaling) {
  json n = normalize_config({{"rope_parameters", {{"rope_type", "default"}, {"rope_theta", 10000.0}}}});
  EXPECT_TRUE(n.contains("rope_scaling"));
  EXPECT_TRUE(n["rope_scaling"].is_null());
  EXPECT_TRUE(normalize_config({{"model_type", "x"}})["rope_scaling"].is_null());
}

TEST(NormalizeConfig, LegacyTypeKeyBecomesRopeType) {
  json n = normalize_config({{"rope_scaling", {{"type", "linear"}, {"factor", 2.0}}}});
  EXPECT_EQ(n["rope_scaling"], (json{{"rope_type", "linear"}, {"factor", 2.0}}));
}

TEST(NormalizeConfig, PartialRotaryFactorIsLifted) {
  json n = normalize_config({{"rope_parameters", {{"rope_theta", 1e4}, {"partial_rotary_factor", 0.25}}}});
  EXPECT_DOUBLE_EQ(n["partial_rotary_factor"].get<double>(), 0.25);
  EXPECT_TRUE(n["rope_scaling"].is_null());
}

TEST(NormalizeConfig, Gemma3LayerTypeKeyedRope) {
  json v5 = {{"model_type", "gemma3_text"},
             {"rope_parameters",
              {{"full_attention", {{"rope_type", "linear"}, {"factor", 8.0}, {"rope_theta", 1e6}}},
               {"sliding_attention", {{"rope_type", "default"}, {"rope_theta", 1e4}}}}}};
  json n = normalize_config(v5);
  EXPECT_DOUBLE_EQ(n["rope_theta"].get<double>(), 1e6);
  EXPECT_DOUBLE_EQ(n["rope_local_base_freq"].get<double>(), 1e4);
  EXPECT_EQ(n["rope_scaling"], (json{{"rope_type", "linear"}, {"factor", 8.0}}));
}

TEST(NormalizeConfig, Gemma3TextConfigIsLifted) {
  json raw = {{"model_type", "gemma3"},
              {"architectures", {"Gemma3ForConditionalGeneration"}},
              {"torch_dtype", "bfloat16"},
              {"eos_token_id", {1, 106}},
              {"vision_config", {{"hidden_size", 1152}}},
              {"text_config", {{"model_type", "gemma3_text"}, {"hidden_size", 2560}, {"rope_theta", 1e6},
                               {"rope_local_base_freq", 1e4}}}};
  json n = normalize_config(raw);
  EXPECT_EQ(n["model_type"], "gemma3");  // the text decoder plus the vision tower
  EXPECT_EQ(n["vision_config"]["hidden_size"], 1152);
  EXPECT_EQ(n["hidden_size"], 2560);
  EXPECT_FALSE(n.contains("text_config"));
  EXPECT_EQ(n["torch_dtype"], "bfloat16");
  EXPECT_EQ(n["dtype"], "bfloat16");
  EXPECT_EQ(n["eos_token_id"], json({1, 106}));
  EXPECT_DOUBLE_EQ(n["rope_local_base_freq"].get<double>(), 1e4);
  raw.erase("vision_config");
  EXPECT_EQ(normalize_config(raw)["model_type"], "gemma3_text");  // text only
}

TEST(NormalizeConfig, DtypeSpellingsAndEos) {
  json a = normalize_config({{"dtype", "float16"}, {"eos_token_id", 7}});
  EXPECT_EQ(a["torch_dtype"], "float16");
  EXPECT_EQ(a["eos_token_id"], json({7}));
  json b = normalize_config({{"torch_dtype", "bfloat16"}, {"eos_token_id", {1, 2}}});
  EXPECT_EQ(b["dtype"], "bfloat16");
  EXPECT_EQ(b["eos_token_id"], json({1, 2}));
  EXPECT_EQ(normalize_config({{"eos_token_id", nullptr}})["eos_token_id"], json::array());
  auto msg = error_message<ModelLoadError>([] { normalize_config({{"eos_token_id", "two"}}, "m/config.json"); });
  EXPECT_NE(msg.find("m/config.json: eos_token_id is \"two\""), std::string::npos) << msg;
  msg = error_message<ModelLoadError>([] { normalize_config(json::array(), "m/config.json"); });
  EXPECT_NE(msg.find("m/config.json: top level is array"), std::string::npos) << msg;
}

// The names come from the architecture plugins (model_type_names.hpp).
TEST(DetectModelType, FromModelTypeThenArchitecturesThenDirectoryName) {
  load_arch_plugins();
  EXPECT_EQ(detect_model_type({{"model_type", "qwen3"}, {"architectures", {"LlamaForCausalLM"}}}), "qwen3");
  EXPECT_EQ(detect_model_type({{"architectures", {"Qwen3ForCausalLM"}}}), "qwen3");
  EXPECT_EQ(detect_model_type({{"architectures", {"Qwen3MoeForCausalLM"}}}), "qwen3_moe");
  EXPECT_EQ(detect_model_type({{"architectures", {"LlamaForCausalLM"}}}), "llama");
  EXPECT_EQ(detect_model_type({{"architectures", {"Gemma3ForCausalLM"}}}), "gemma3_text");
  EXPECT_EQ(detect_model_type({{"architectures", {"Phi3ForCausalLM"}}}), "phi3");
  EXPECT_EQ(detect_model_type({{"architectures", {"StarCoder2ForCausalLM"}}}), "starcoder2");
  EXPECT_EQ(detect_model_type(json::object(), "/models/Mixtral-8x7B-Instruct"), "mixtral");
  EXPECT_EQ(detect_model_type(json::object(), "/models/Mistral-7B-v0.3/"), "mistral");
  EXPECT_EQ(detect_model_type(json::object(), "/models/Qwen3-30B-A3B-qwen3_moe"), "qwen3_moe");
  EXPECT_EQ(detect_model_type(json::object(), "/c/models--Qwen--Qwen2.5-0.5B/snapshots/0123456789abcdef"), "qwen2");
  EXPECT_EQ(detect_model_type(json::object(), "/models/gemma-2-2b"), "gemma2");
  EXPECT_EQ(detect_model_type(json::object(), "/models/something"), "");
  EXPECT_EQ(detect_model_type({{"architectures", {"GptOssForCausalLM"}}}), "gpt_oss");
  EXPECT_EQ(detect_model_type({{"architectures", {"Olmo2ForCausalLM"}}}), "olmo2");  // the generic rule
  EXPECT_EQ(detect_model_type(json::object(), "/models/OLMo-2-0425-1B"), "olmo2");
  EXPECT_EQ(detect_model_type(json::object(), "/models/gpt-oss-20b"), "gpt_oss");
  EXPECT_EQ(detect_model_type({{"architectures", {"DeepseekV3ForCausalLM"}}}), "deepseek_v3");  // no plugin: still named
}

TEST(DetectModelType, LoaderFallsBackToTheDirectoryName) {
  load_arch_plugins();  // the folder spellings come with the plugins
  TempDir tmp;
  const fs::path dir = tmp / "Qwen3-tiny";
  copy_fixture("qwen3", dir);
  json cfg = read_json(dir / "config.json");
  cfg.erase("model_type");
  cfg.erase("architectures");
  write_json(dir / "config.json", cfg);
  EXPECT_EQ(load_checkpoint(dir).model_type, "qwen3");
  const fs::path anon = tmp / "anonymous";
  fs::rename(dir, anon);
  auto msg = error_message<ModelLoadError>([&] { load_checkpoint(anon); });
  EXPECT_NE(msg.find("cannot tell the architecture"), std::string::npos) << msg;
}

TEST(RequireArchitecture, NamesTheModelTypeAndListsInstalledPlugins) {
  EXPECT_NO_THROW(require_architecture("llama", {"llama", "qwen3"}));
  auto msg = error_message<UnsupportedError>([] { require_architecture("falcon", {"llama", "qwen3"}); });
  EXPECT_EQ(msg, "model_type 'falcon' has no architecture plugin; installed architectures: llama, qwen3");
  msg = error_message<UnsupportedError>([] { require_architecture("falcon", {}); });
  EXPECT_NE(msg.find("installed architectures: none"), std::string::npos);
}

TEST(GenerationDefaults, IntEosFallbackAndMissingFile) {
  TempDir tmp;
  write_json(tmp / "generation_config.json", {{"eos_token_id", 5}, {"bos_token_id", 1}, {"temperature", 0.6},
                                              {"min_p", 0.1}, {"do_sample", false}});
  auto g = read_generation_defaults(tmp.path(), json::object());
  EXPECT_EQ(g.eos_token_ids, std::vector<int32_t>{5});
  EXPECT_EQ(g.bos_token_id, std::optional<int32_t>(1));
  EXPECT_DOUBLE_EQ(g.min_p.value_or(0), 0.1);
  EXPECT_EQ(g.do_sample, std::optional<bool>(false));
  EXPECT_FALSE(g.top_k.has_value());

  TempDir empty;
  auto h = read_generation_defaults(empty.path(), {{"eos_token_id", json({3, 4})}, {"bos_token_id", 9}});
  EXPECT_EQ(h.eos_token_ids, (std::vector<int32_t>{3, 4}));
  EXPECT_EQ(h.bos_token_id, std::optional<int32_t>(9));
  EXPECT_FALSE(h.temperature.has_value());

  write_json(tmp / "generation_config.json", {{"temperature", "hot"}});
  auto msg = error_message<ModelLoadError>([&] { read_generation_defaults(tmp.path(), json::object()); });
  EXPECT_NE(msg.find("generation_config.json: \"temperature\" is \"hot\""), std::string::npos) << msg;
}

TEST(ChatTemplate, JinjaFileWinsOverTokenizerConfig) {
  TempDir tmp;
  const fs::path dir = tmp / "m";
  copy_fixture("qwen3", dir);
  write_file(dir / "chat_template.jinja", "{{ messages[0].content }}");
  EXPECT_EQ(load_checkpoint(dir).chat_template, std::optional<std::string>("{{ messages[0].content }}"));
  fs::remove(dir / "chat_template.jinja");
  json tc = read_json(dir / "tokenizer_config.json");
  tc["chat_template"] = json::array({{{"name", "tool_use"}, {"template", "T"}}, {{"name", "default"}, {"template", "D"}}});
  write_json(dir / "tokenizer_config.json", tc);
  EXPECT_EQ(load_checkpoint(dir).chat_template, std::optional<std::string>("D"));
  tc.erase("chat_template");
  write_json(dir / "tokenizer_config.json", tc);
  EXPECT_FALSE(load_checkpoint(dir).chat_template.has_value());
}

TEST(DTypes, NamesSizesAndGgufBlocks) {
  EXPECT_STREQ(dtype_name(DType::BF16), "BF16");
  EXPECT_STREQ(dtype_name(DType::Q4_K), "Q4_K");
  EXPECT_EQ(dtype_size(DType::F32), 4u);
  EXPECT_EQ(dtype_size(DType::BF16), 2u);
  EXPECT_EQ(dtype_size(DType::I64), 8u);
  EXPECT_EQ(dtype_size(DType::MLX_AFFINE), 0u);
  EXPECT_EQ(dtype_size(DType::Q8_0), 0u);
  const std::tuple<DType, size_t, size_t> blocks[] = {
      {DType::Q4_0, 32, 18},  {DType::Q4_1, 32, 20},  {DType::Q5_0, 32, 22},  {DType::Q5_1, 32, 24},
      {DType::Q8_0, 32, 34},  {DType::Q8_1, 32, 36},  {DType::Q2_K, 256, 84}, {DType::Q3_K, 256, 110},
      {DType::Q4_K, 256, 144}, {DType::Q5_K, 256, 176}, {DType::Q6_K, 256, 210}, {DType::Q8_K, 256, 292},
      {DType::F16, 1, 2},     {DType::F32, 1, 4}};
  for (auto [t, elems, bytes] : blocks) {
    EXPECT_EQ(dtype_block_elems(t), elems) << dtype_name(t);
    EXPECT_EQ(dtype_block_bytes(t), bytes) << dtype_name(t);
  }
  EXPECT_EQ(torch_dtype_name(DType::BF16), "bfloat16");
}

}  // namespace
}  // namespace allm::test

namespace allm::test {
namespace {

TEST(NormalizeConfig, ValuesOfUnexpectedTypesAreLoadErrorsNotCrashes) {
  using json = nlohmann::json;
  for (const json& raw : {json{{"model_type", 3}}, json{{"rope_scaling", {{"rope_type", 5}}}},
                          json{{"rope_parameters", "fast"}}, json{{"rope_parameters", {{"full_attention", 1}}}},
                          json{{"torch_dtype", 16}}, json{{"model_type", "gemma3"}, {"text_config", 1}}}) {
    try {
      json n = normalize_config(raw, "c.json");
      EXPECT_TRUE(n.is_object());
    } catch (const ModelLoadError& e) {
      EXPECT_NE(std::string(e.what()).find("c.json"), std::string::npos) << e.what();
    }
  }
}

TEST(BadSafetensorsJson, NumberTooLargeForAnyTypeIsAModelLoadError) {
  const std::string bytes = safetensors_bytes("{\"a\": {\"dtype\": \"F32\", \"shape\": [9e664], \"data_offsets\": [0, 0]}}", "");
  EXPECT_THROW(allm::parse_safetensors_header(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), "x"),
               ModelLoadError);
}

}  // namespace
}  // namespace allm::test
