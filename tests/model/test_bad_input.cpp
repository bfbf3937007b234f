// Corrupt or inconsistent checkpoints fail with a typed error whose message
// names the file and the tensor (or config key) at fault.
#include <functional>

#include <gtest/gtest.h>

#include "allm/error.hpp"
#include "allm/model_loader.hpp"
#include "allm/safetensors.hpp"
#include "test_util.hpp"

namespace allm::test {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

bool has(const std::string& msg, const std::string& part) { return msg.find(part) != std::string::npos; }

// A checkpoint directory whose model.safetensors is `bytes`, config from qwen3.
fs::path dir_with_weights(const TempDir& tmp, const std::string& bytes) {
  const fs::path dir = tmp / "model";
  copy_fixture("qwen3", dir);
  write_file(dir / "model.safetensors", bytes);
  return dir;
}

TEST(BadSafetensors, TruncatedFileNamesTheTensorThatRunsPastTheEnd) {
  TempDir tmp;
  const std::string full = read_file(fixture("qwen3") / "model.safetensors");
  const fs::path dir = dir_with_weights(tmp, full.substr(0, full.size() / 2));
  auto msg = error_message<ModelLoadError>([&] { load_checkpoint(dir); });
  EXPECT_TRUE(has(msg, (dir / "model.safetensors").string())) << msg;
  EXPECT_TRUE(has(msg, "run past the end")) << msg;
  EXPECT_TRUE(has(msg, "tensor 'model.")) << msg;
}

TEST(BadSafetensors, FileShorterThanTheLengthField) {
  TempDir tmp;
  const fs::path dir = dir_with_weights(tmp, "abc");
  auto msg = error_message<ModelLoadError>([&] { load_checkpoint(dir); });
  EXPECT_TRUE(has(msg, "model.safetensors: truncated: 3 bytes")) << msg;
}

TEST(BadSafetensors, AbsurdHeaderLength) {
  TempDir tmp;
  const fs::path dir = dir_with_weights(tmp, u64_le(uint64_t{1} << 50) + "{}");
  auto msg = error_message<ModelLoadError>([&] { load_checkpoint(dir); });
  EXPECT_TRUE(has(msg, "model.safetensors: header length 1125899906842624 is absurd")) << msg;
}

TEST(BadSafetensors, HeaderLengthPastTheEndOfTheFile) {
  TempDir tmp;
  const fs::path dir = dir_with_weights(tmp, u64_le(1000) + "{}");
  auto msg = error_message<ModelLoadError>([&] { load_checkpoint(dir); });
  EXPECT_TRUE(has(msg, "header length 1000 runs past the end of the 10-byte file")) << msg;
}

TEST(BadSafetensors, MalformedHeaderJson) {
  TempDir tmp;
  const fs::path dir = dir_with_weights(tmp, safetensors_bytes("{\"a\": {\"dtype\": ", ""));
  auto msg = error_message<ModelLoadError>([&] { load_checkpoint(dir); });
  EXPECT_TRUE(has(msg, "model.safetensors: malformed JSON header at byte")) << msg;
}

TEST(BadSafetensors, HeaderThatIsNotAnObject) {
  auto bytes = safetensors_bytes("[1, 2]", "");
  auto msg = error_message<ModelLoadError>(
      [&] { parse_safetensors_header(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), "x.safetensors"); });
  EXPECT_TRUE(has(msg, "x.safetensors: JSON header is array, not an object")) << msg;
}

TEST(BadSafetensors, OverlappingOffsets) {
  json h = {{"a", {{"dtype", "F32"}, {"shape", {4}}, {"data_offsets", {0, 16}}}},
            {"b", {{"dtype", "F32"}, {"shape", {4}}, {"data_offsets", {8, 24}}}}};
  auto bytes = safetensors_bytes(h.dump(), std::string(24, '\0'));
  auto msg = error_message<ModelLoadError>(
      [&] { parse_safetensors_header(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), "x.safetensors"); });
  EXPECT_TRUE(has(msg, "x.safetensors: tensors 'a' [0, 16) and 'b' [8, 24) overlap")) << msg;
}

TEST(BadSafetensors, OffsetsPastTheEnd) {
  json h = {{"w", {{"dtype", "F32"}, {"shape", {4}}, {"data_offsets", {16, 32}}}}};
  auto bytes = safetensors_bytes(h.dump(), std::string(20, '\0'));
  auto msg = error_message<ModelLoadError>(
      [&] { parse_safetensors_header(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), "x.safetensors"); });
  EXPECT_TRUE(has(msg, "x.safetensors: tensor 'w': data_offsets [16, 32] run past the end of the data (20 bytes)")) << msg;
}

TEST(BadSafetensors, OffsetsThatEndBeforeTheyBegin) {
  json h = {{"w", {{"dtype", "F32"}, {"shape", {0}}, {"data_offsets", {8, 4}}}}};
  auto bytes = safetensors_bytes(h.dump(), std::string(20, '\0'));
  auto msg = error_message<ModelLoadError>(
      [&] { parse_safetensors_header(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), "x.safetensors"); });
  EXPECT_TRUE(has(msg, "tensor 'w': data_offsets [8, 4] end before they begin")) << msg;
}

TEST(BadSafetensors, ByteSizeDisagreesWithShapeAndDtype) {
  json h = {{"w", {{"dtype", "BF16"}, {"shape", {2, 3}}, {"data_offsets", {0, 24}}}}};
  auto bytes = safetensors_bytes(h.dump(), std::string(24, '\0'));
  auto msg = error_message<ModelLoadError>(
      [&] { parse_safetensors_header(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), "x.safetensors"); });
  EXPECT_TRUE(has(msg, "x.safetensors: tensor 'w': 24 bytes stored but shape [2, 3] of BF16 needs 12")) << msg;
}

TEST(BadSafetensors, NegativeOrFractionalShape) {
  json h = {{"w", {{"dtype", "F32"}, {"shape", {-2}}, {"data_offsets", {0, 0}}}}};
  auto bytes = safetensors_bytes(h.dump(), "");
  auto msg = error_message<ModelLoadError>(
      [&] { parse_safetensors_header(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), "x.safetensors"); });
  EXPECT_TRUE(has(msg, "tensor 'w': \"shape\" holds -2, not a non-negative integer")) << msg;
}

TEST(BadSafetensors, ShapeWhoseByteSizeOverflows) {
  json h = {{"w", {{"dtype", "F32"}, {"shape", {uint64_t{1} << 40, uint64_t{1} << 40}}, {"data_offsets", {0, 0}}}}};
  auto bytes = safetensors_bytes(h.dump(), "");
  auto msg = error_message<ModelLoadError>(
      [&] { parse_safetensors_header(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), "x.safetensors"); });
  EXPECT_TRUE(has(msg, "tensor 'w': shape x dtype size overflows")) << msg;
}

TEST(BadSafetensors, UnknownDtypeIsUnsupported) {
  json h = {{"w", {{"dtype", "F8_E4M3"}, {"shape", {4}}, {"data_offsets", {0, 4}}}}};
  auto bytes = safetensors_bytes(h.dump(), std::string(4, '\0'));
  auto msg = error_message<UnsupportedError>(
      [&] { parse_safetensors_header(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), "x.safetensors"); });
  EXPECT_TRUE(has(msg, "x.safetensors: tensor 'w': dtype F8_E4M3 is not supported")) << msg;
}

TEST(BadCheckpoint, HiddenSizeMismatchNamesEmbedTokens) {
  TempDir tmp;
  const fs::path dir = tmp / "model";
  copy_fixture("llama", dir);
  json cfg = read_json(dir / "config.json");
  cfg["hidden_size"] = 32;
  write_json(dir / "config.json", cfg);
  auto msg = error_message<ModelLoadError>([&] { load_checkpoint(dir); });
  EXPECT_TRUE(has(msg, "tensor 'model.embed_tokens.weight' has shape [512, 64]")) << msg;
  EXPECT_TRUE(has(msg, "(vocab_size, hidden_size) implies [512, 32]")) << msg;
  EXPECT_TRUE(has(msg, "model.safetensors")) << msg;
}

TEST(BadCheckpoint, MissingTensorNamesTheCheckpoint) {
  Checkpoint ck = load_checkpoint(fixture("qwen3"));
  auto msg = error_message<ModelLoadError>([&] { ck.weights->get("model.layers.7.mlp.up_proj.weight"); });
  EXPECT_TRUE(has(msg, "checkpoint has no tensor 'model.layers.7.mlp.up_proj.weight'")) << msg;
  EXPECT_TRUE(has(msg, fixture("qwen3").string())) << msg;
  EXPECT_EQ(ck.weights->find("model.layers.7.mlp.up_proj.weight"), nullptr);
}

TEST(BadCheckpoint, MissingConfigJson) {
  TempDir tmp;
  auto msg = error_message<ModelLoadError>([&] { load_checkpoint(tmp.path()); });
  EXPECT_TRUE(has(msg, "no config.json")) << msg;
}

TEST(BadCheckpoint, MalformedConfigJsonGivesLineAndColumn) {
  TempDir tmp;
  const fs::path dir = tmp / "model";
  copy_fixture("qwen3", dir);
  write_file(dir / "config.json", "{\n  \"model_type\": \"qwen3\",\n  oops\n}");
  auto msg = error_message<ModelLoadError>([&] { load_checkpoint(dir); });
  EXPECT_TRUE(has(msg, "config.json: malformed JSON")) << msg;
  EXPECT_TRUE(has(msg, "line 3")) << msg;
}

TEST(BadCheckpoint, NoWeightFiles) {
  TempDir tmp;
  const fs::path dir = tmp / "model";
  copy_fixture("qwen3", dir);
  fs::remove(dir / "model.safetensors");
  auto msg = error_message<ModelLoadError>([&] { load_checkpoint(dir); });
  EXPECT_TRUE(has(msg, "no weights found")) << msg;
}

fs::path quantized_dir_with(const TempDir& tmp, const std::function<void(json&)>& edit) {
  const fs::path dir = tmp / "model";
  copy_fixture("llama-mlx4", dir);
  json cfg = read_json(dir / "config.json");
  edit(cfg);
  write_json(dir / "config.json", cfg);
  return dir;
}

TEST(BadQuantization, UnknownModeIsUnsupportedAndNamed) {
  TempDir tmp;
  auto dir = quantized_dir_with(tmp, [](json& c) { c["quantization"]["mode"] = "mxfp4"; });
  auto msg = error_message<UnsupportedError>([&] { load_checkpoint(dir); });
  EXPECT_TRUE(has(msg, "quantization mode \"mxfp4\" is not supported")) << msg;
  EXPECT_TRUE(has(msg, "config.json")) << msg;
}

TEST(BadQuantization, UnknownBitsAreUnsupported) {
  TempDir tmp;
  auto dir = quantized_dir_with(tmp, [](json& c) { c["quantization"]["bits"] = 7; });
  auto msg = error_message<UnsupportedError>([&] { load_checkpoint(dir); });
  EXPECT_TRUE(has(msg, "7-bit quantization is not supported")) << msg;
}

TEST(BadQuantization, UnsupportedGroupSize) {
  TempDir tmp;
  auto dir = quantized_dir_with(tmp, [](json& c) { c["quantization"]["group_size"] = 48; });
  auto msg = error_message<UnsupportedError>([&] { load_checkpoint(dir); });
  EXPECT_TRUE(has(msg, "group_size 48 is not supported")) << msg;
}

TEST(BadQuantization, BitsDisagreeingWithTensorShapesNameTheTensor) {
  TempDir tmp;
  auto dir = quantized_dir_with(tmp, [](json& c) { c["quantization"] = {{"bits", 8}, {"group_size", 64}}; });
  auto msg = error_message<ModelLoadError>([&] { load_checkpoint(dir); });
  EXPECT_TRUE(has(msg, "tensor 'lm_head.weight': codes [512, 8] with scales [512, 1] do not match bits=8 group_size=64")) << msg;
  EXPECT_TRUE(has(msg, "bits=4/group_size=64")) << msg;
}

TEST(BadQuantization, PerLayerOverrideDisagreeingWithShapes) {
  TempDir tmp;
  auto dir = quantized_dir_with(tmp, [](json& c) {
    c["quantization"]["model.layers.0.mlp.up_proj"] = {{"bits", 8}, {"group_size", 64}};
  });
  auto msg = error_message<ModelLoadError>([&] { load_checkpoint(dir); });
  EXPECT_TRUE(has(msg, "tensor 'model.layers.0.mlp.up_proj.weight'")) << msg;
}

TEST(BadQuantization, HuggingFaceQuantMethodIsUnsupported) {
  TempDir tmp;
  const fs::path dir = tmp / "model";
  copy_fixture("qwen3", dir);
  json cfg = read_json(dir / "config.json");
  cfg["quantization_config"] = {{"quant_method", "gptq"}, {"bits", 4}};
  write_json(dir / "config.json", cfg);
  auto msg = error_message<UnsupportedError>([&] { load_checkpoint(dir); });
  EXPECT_TRUE(has(msg, "quant_method \"gptq\"")) << msg;
}

TEST(BadQuantization, ScalesWithoutQuantizationConfig) {
  TempDir tmp;
  auto dir = quantized_dir_with(tmp, [](json& c) {
    c.erase("quantization");
    c.erase("quantization_config");
  });
  auto msg = error_message<ModelLoadError>([&] { load_checkpoint(dir); });
  EXPECT_TRUE(has(msg, ".scales': MLX scales found but")) << msg;
}

TEST(BadQuantization, MissingBiasesAndMissingScales) {
  TempDir tmp;
  const fs::path dir = tmp / "model";
  copy_fixture("llama-mlx4", dir);
  write_json(dir / "config.json", read_json(fixture("llama-mlx4") / "config.json"));
  // Rewrite the file without one module's biases, then without its scales.
  auto st = SafetensorsFile::open(fixture("llama-mlx4") / "model.safetensors");
  auto rewrite_without = [&](const std::string& drop) {
    json h = json::object();
    std::string data;
    for (const auto& t : st.tensors()) {
      if (t.name == drop) continue;
      h[t.name] = {{"dtype", dtype_name(t.dtype)}, {"shape", t.shape}, {"data_offsets", {data.size(), data.size() + t.nbytes}}};
      data.append(static_cast<const char*>(t.data), t.nbytes);
    }
    write_file(dir / "model.safetensors", safetensors_bytes(h.dump(), data));
  };
  rewrite_without("model.layers.0.mlp.gate_proj.biases");
  auto msg = error_message<ModelLoadError>([&] { load_checkpoint(dir); });
  EXPECT_TRUE(has(msg, "needs 'model.layers.0.mlp.gate_proj.biases', which is missing")) << msg;
  rewrite_without("model.layers.0.mlp.gate_proj.scales");
  msg = error_message<ModelLoadError>([&] { load_checkpoint(dir); });
  EXPECT_TRUE(has(msg, "tensor 'model.layers.0.mlp.gate_proj.weight' holds U32 packed codes but")) << msg;
}

TEST(BadSharding, IndexNamingAMissingShard) {
  TempDir tmp;
  const fs::path dir = tmp / "model";
  copy_fixture("qwen3", dir);
  fs::remove(dir / "model.safetensors");
  write_json(dir / "model.safetensors.index.json",
             {{"weight_map", {{"model.norm.weight", "model-00001-of-00002.safetensors"}}}});
  auto msg = error_message<ModelLoadError>([&] { load_checkpoint(dir); });
  EXPECT_TRUE(has(msg, "shard 'model-00001-of-00002.safetensors' is missing")) << msg;
}

TEST(BadSharding, IndexEscapingTheDirectory) {
  TempDir tmp;
  const fs::path dir = tmp / "model";
  copy_fixture("qwen3", dir);
  write_json(dir / "model.safetensors.index.json", {{"weight_map", {{"model.norm.weight", "../../etc/passwd"}}}});
  auto msg = error_message<ModelLoadError>([&] { load_checkpoint(dir); });
  EXPECT_TRUE(has(msg, "not a file in the directory")) << msg;
}

TEST(BadInput, NonexistentPathAndUnknownFileKind) {
  auto msg = error_message<ModelLoadError>([&] { load_checkpoint("/nonexistent/model-dir"); });
  EXPECT_TRUE(has(msg, "/nonexistent/model-dir: no such file or directory")) << msg;
  TempDir tmp;
  write_file(tmp / "weights.bin", "xx");
  msg = error_message<UnsupportedError>([&] { load_checkpoint(tmp / "weights.bin"); });
  EXPECT_TRUE(has(msg, "weights.bin: not a model directory")) << msg;
}

}  // namespace
}  // namespace allm::test
