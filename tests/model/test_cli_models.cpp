// `allm models list/show` run as a user would, against a scratch HF cache.
#include <cstdio>
#include <cstdlib>

#include <gtest/gtest.h>

#include "../common/run_command.hpp"
#include "test_util.hpp"

namespace allm::test {
namespace {

namespace fs = std::filesystem;

using CliResult = CommandResult;

// Runs the CLI with HF_HUB_CACHE set; stdout only (stderr discarded).
CliResult run_cli(const fs::path& cache, const std::string& args) {
  return run_command("HF_HUB_CACHE='" + cache.string() + "' '" + ALLM_CLI_PATH + "' " + args + " 2>/dev/null");
}

void add_snapshot(const fs::path& cache, const std::string& repo_dir, const std::string& fixture_name) {
  const std::string commit = "abcdef0123456789abcdef0123456789abcdef01";
  const fs::path repo = cache / repo_dir;
  fs::create_directories(repo / "blobs");
  fs::create_directories(repo / "refs");
  fs::create_directories(repo / "snapshots" / commit);
  write_file(repo / "refs" / "main", commit);
  for (const auto& e : fs::directory_iterator(fixture(fixture_name))) {
    fs::copy_file(e.path(), repo / "blobs" / e.path().filename());
    fs::create_symlink(fs::path("../../blobs") / e.path().filename(), repo / "snapshots" / commit / e.path().filename());
  }
}

TEST(CliModels, ListJsonShowsTheHfCacheAndAnEmptyProcessCache) {
  TempDir cache;
  add_snapshot(cache.path(), "models--acme--tiny-qwen3", "qwen3-mlx4");
  CliResult r = run_cli(cache.path(), "models list --json");
  ASSERT_EQ(r.status, 0) << r.out;
  auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["hf_cache"]["path"], cache.path().string());
  ASSERT_EQ(j["hf_cache"]["repos"].size(), 1u);
  const auto& repo = j["hf_cache"]["repos"][0];
  EXPECT_EQ(repo["repo"], "acme/tiny-qwen3");
  EXPECT_EQ(repo["revisions"][0]["refs"], nlohmann::json::array({"main"}));
  EXPECT_GT(repo["size_on_disk"].get<uint64_t>(), 80000u);
  // The shipped model is listed (and marked the default) though no HF cache holds it.
  ASSERT_EQ(j["bundled"].size(), 1u) << j.dump();
  EXPECT_EQ(j["bundled"][0]["name"], "allm-tiny");
  EXPECT_TRUE(j["bundled"][0]["default"].get<bool>());
  EXPECT_TRUE(fs::is_regular_file(j["bundled"][0]["path"].get<std::string>() + "/config.json"));
  EXPECT_FALSE(j.contains("loaded"));  // a CLI process holds no models

  CliResult text = run_cli(cache.path(), "models");
  ASSERT_EQ(text.status, 0);
  EXPECT_NE(text.out.find("acme/tiny-qwen3"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("main@abcdef012345"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("allm-tiny"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("(default)"), std::string::npos) << text.out;
  EXPECT_EQ(text.out.find("Loaded in this process"), std::string::npos) << text.out;

  // An empty HF cache still lists the bundled model.
  TempDir empty;
  CliResult none = run_cli(empty.path(), "models list");
  EXPECT_NE(none.out.find("allm-tiny"), std::string::npos) << none.out;
}

TEST(CliModels, ShowResolvesARepoIdAndReportsQuantization) {
  TempDir cache;
  add_snapshot(cache.path(), "models--acme--tiny-qwen3", "qwen3-mlx4");
  CliResult r = run_cli(cache.path(), "models show acme/tiny-qwen3 --context 256 --json");
  ASSERT_EQ(r.status, 0) << r.out;
  auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["model_type"], "qwen3");
  EXPECT_EQ(j["quantization"]["mode"], "affine");
  EXPECT_EQ(j["quantization"]["bits"], 4);
  EXPECT_EQ(j["kv_cache_bytes"], 2 * 2 * 2 * 32 * 256 * 4);
  EXPECT_EQ(j["hf"]["revision"], "main");
  CliResult missing = run_cli(cache.path(), "models show acme/absent");
  EXPECT_EQ(missing.status, 5);  // model load error
}

// A GGUF converted by llama.cpp from the llama fixture: the fixture's own
// config.json is the oracle for its shape, and both formats hold the same
// number of parameters. The KV cache is sized for at most the model's window.
TEST(CliModels, ShowGgufReportsShapeQuantizationAndCapsTheKvCache) {
  TempDir cache;
  const auto gguf = models_dir().parent_path() / "gguf" / "llama-q8_0.gguf";
  CliResult g = run_cli(cache.path(), "models show '" + gguf.string() + "' --context 100000 --json");
  ASSERT_EQ(g.status, 0) << g.out;
  CliResult h = run_cli(cache.path(), "models show '" + fixture("llama").string() + "' --context 100000 --json");
  ASSERT_EQ(h.status, 0) << h.out;
  auto gj = nlohmann::json::parse(g.out), hj = nlohmann::json::parse(h.out);
  auto config = nlohmann::json::parse(read_file(fixture("llama") / "config.json"));
  EXPECT_EQ(gj["model_context_length"], config["max_position_embeddings"]);
  EXPECT_EQ(gj["layers"], config["num_hidden_layers"]);
  EXPECT_EQ(gj["vocab_size"], config["vocab_size"]);
  EXPECT_EQ(gj["hidden_size"], config["hidden_size"]);
  EXPECT_GT(gj["parameters"].get<uint64_t>(), 0u);
  EXPECT_EQ(gj["parameters"], hj["parameters"]);
  EXPECT_EQ(gj["dtype"], "Q8_0");
  EXPECT_EQ(gj["quantization"]["type"], "Q8_0");
  EXPECT_DOUBLE_EQ(gj["quantization"]["bits_per_weight"].get<double>(), 8.5);  // 34 bytes per 32 weights
  EXPECT_EQ(gj["context_length"], config["max_position_embeddings"]);
  EXPECT_EQ(gj["kv_cache_bytes"], hj["kv_cache_bytes"]);

  CliResult text = run_cli(cache.path(), "models show '" + gguf.string() + "' --context 100000");
  EXPECT_NE(text.out.find("Quantization:   gguf Q8_0"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("Context length: " + config["max_position_embeddings"].dump()), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("(the model's maximum)"), std::string::npos) << text.out;
  EXPECT_EQ(text.out.find("0-bit"), std::string::npos) << text.out;
}

}  // namespace
}  // namespace allm::test
