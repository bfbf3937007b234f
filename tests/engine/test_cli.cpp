// The engine's CLI contract, through the real binary: `allm logits` writes
// transformers' logits, `allm run --json` reproduces the greedy continuation.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <string>

#include <nlohmann/json.hpp>

#include "allm/safetensors.hpp"
#include "../common/run_command.hpp"
#include "engine_test_util.hpp"

namespace allm::test {
namespace {

CommandResult run_cli(const std::string& args) {
  return run_command(std::string(ALLM_CLI_BINARY) + " " + args + " 2>/dev/null");
}

std::string join(const Tensor& ids) {
  std::string s;
  const auto* p = static_cast<const int32_t*>(ids.data);
  for (int64_t i = 0; i < ids.numel(); ++i) {
    if (i) s += ',';
    s += std::to_string(p[i]);
  }
  return s;
}

TEST(Cli, LogitsWritesEveryPosition) {
  const auto ref = SafetensorsFile::open(fixture("gemma2") / "reference.safetensors");
  const auto out = std::filesystem::temp_directory_path() / ("allm_engine_logits_" + std::to_string(getpid()) + ".safetensors");
  auto r = run_cli("logits " + fixture("gemma2").string() + " --tokens " + join(ref.get("input_ids")) + " --out " +
                   out.string());
  ASSERT_EQ(r.status, 0);
  {
    const auto got = SafetensorsFile::open(out);
    const Tensor& logits = got.get("logits");
    const Tensor& expected = ref.get("logits");
    ASSERT_EQ(logits.dtype, DType::F32);
    ASSERT_EQ(logits.shape, expected.shape);
    double m = 0;
    for (int64_t i = 0; i < logits.numel(); ++i)
      m = std::max(m, std::fabs(double(static_cast<const float*>(logits.data)[i]) -
                                static_cast<const float*>(expected.data)[i]));
    EXPECT_LE(m, 1e-3);
  }
  std::filesystem::remove(out);
}

TEST(Cli, RunJsonReproducesGreedyContinuation) {
  const auto ref = SafetensorsFile::open(fixture("qwen3-mlx4") / "reference.safetensors");
  auto r = run_cli("run " + fixture("qwen3-mlx4").string() + " --prompt-tokens " + join(ref.get("input_ids")) +
                   " --temperature 0 --max-tokens 16 --ignore-eos --json");
  ASSERT_EQ(r.status, 0) << r.out;
  const auto j = nlohmann::json::parse(r.out);
  const auto ids = j.at("token_ids").get<std::vector<int32_t>>();
  const auto* greedy = static_cast<const int32_t*>(ref.get("greedy_ids").data);
  const auto* margins = static_cast<const float*>(ref.get("greedy_margins").data);
  ASSERT_EQ(ids.size(), 16u);
  for (size_t i = 0; i < ids.size() && margins[i] >= 0.05f; ++i) EXPECT_EQ(ids[i], greedy[i]) << "step " << i;
  EXPECT_EQ(j.at("finish_reason"), "length");
  EXPECT_EQ(j.at("usage").at("prompt_tokens"), 24);
  EXPECT_EQ(j.at("usage").at("completion_tokens"), 16);
  EXPECT_EQ(j.at("usage").at("total_tokens"), 40);
  EXPECT_TRUE(j.at("text").is_string());
  for (const char* k : {"load_ms", "prefill_tokens_per_s", "decode_tokens_per_s"})
    EXPECT_TRUE(j.at("timings").at(k).is_number()) << k;
}

TEST(Cli, BadArgumentsExitWithInvalidArgument) {
  EXPECT_EQ(run_cli("run " + fixture("llama").string() + " --prompt-tokens 1,x").status, 2);
  EXPECT_EQ(run_cli("run " + fixture("llama").string() + " --prompt-tokens 1 --temperature -1").status, 2);
  EXPECT_EQ(run_cli("run " + fixture("llama").string() + " --prompt-tokens 1,600").status, 2);  // outside the vocabulary
  EXPECT_EQ(run_cli("logits " + fixture("llama").string() + " --tokens 1").status, 2);          // no --out
}

// allm models show --tensor-parallel N: each device's weights (every matrix
// once over the devices, the norms and the router on each), its KV cache
// (its kv heads only) and whether that fits --device-memory; a model that
// cannot be divided is refused naming the model and the count.
TEST(Cli, ModelsShowTensorParallel) {
  const std::string model = fixture("qwen3_moe").string();
  auto show = [&](const std::string& memory) {
    auto r = run_cli("models show " + model + " --tensor-parallel 2 --context 100 --kv-type f16 --json --device-memory " +
                     memory);
    EXPECT_EQ(r.status, 0) << r.out;
    return nlohmann::json::parse(r.out)["tensor_parallel"];
  };
  const nlohmann::json tp = show("1G");
  ASSERT_EQ(tp["ranks"], 2);
  ASSERT_EQ(tp["per_rank"].size(), 2u);
  EXPECT_EQ(tp["executed"], false);
  // The fixture's F32 checkpoint: norms and routers replicated, everything else divided.
  const Checkpoint ck = load_fixture("qwen3_moe");
  uint64_t replicated = 0;
  for (const std::string& name : ck.weights->names())
    if (name.find("norm") != std::string::npos || name.find("mlp.gate.weight") != std::string::npos)
      replicated += ck.weights->get(name).nbytes;
  uint64_t sum = 0, most = 0;
  for (const auto& r : tp["per_rank"]) {
    // 2 layers x (key, value) x 1 of the 2 kv heads x 32 dims x 2 bytes (f16).
    EXPECT_EQ(r["kv_bytes_per_position"], 2 * 2 * 1 * 32 * 2);
    EXPECT_EQ(r["kv_cache_bytes"], 100 * 256);
    EXPECT_EQ(r["required_bytes"], r["weight_bytes"].get<uint64_t>() + 100 * 256);
    EXPECT_EQ(r["fits"], true);
    sum += r["weight_bytes"].get<uint64_t>();
    most = std::max(most, r["required_bytes"].get<uint64_t>());
  }
  EXPECT_EQ(sum, ck.weights->total_bytes() + replicated);
  EXPECT_EQ(tp["fits"], true);
  EXPECT_EQ(show(std::to_string(most - 1))["fits"], false);
  EXPECT_EQ(show(std::to_string(most))["fits"], true);

  const auto refused = run_command(std::string(ALLM_CLI_BINARY) + " models show " + fixture("llama").string() +
                                   " --tensor-parallel 3 2>&1");
  EXPECT_EQ(refused.status, 2);
  EXPECT_NE(refused.out.find("tensor parallelism over 3 ranks: llama model: the query heads (4) cannot be divided "
                                "evenly over 3 ranks"),
            std::string::npos)
      << refused.out;
  EXPECT_EQ(run_cli("models show " + model + " --device-memory 1G").status, 2);  // without --tensor-parallel
  EXPECT_EQ(run_cli("models show " + model + " --tensor-parallel 0").status, 2);
}

}  // namespace
}  // namespace allm::test
