// `allm models list/show` run as a user would, against a scratch HF cache.
#include <cstdio>
#include <cstdlib>

#include <gtest/gtest.h>

#include "test_util.hpp"

namespace allm::test {
namespace {

namespace fs = std::filesystem;

struct CliResult {
  int status;
  std::string out;
};

// Runs the CLI with HF_HUB_CACHE set; stdout only (stderr discarded).
CliResult run_cli(const fs::path& cache, const std::string& args) {
  const std::string cmd = "HF_HUB_CACHE='" + cache.string() + "' '" + ALLM_CLI_PATH + "' " + args + " 2>/dev/null";
  FILE* p = ::popen(cmd.c_str(), "r");
  std::string out;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  int st = ::pclose(p);
  return {WIFEXITED(st) ? WEXITSTATUS(st) : -1, out};
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
  EXPECT_TRUE(j["loaded"].empty());
  EXPECT_EQ(j["max_cached_models"], 2);

  CliResult text = run_cli(cache.path(), "models");
  ASSERT_EQ(text.status, 0);
  EXPECT_NE(text.out.find("acme/tiny-qwen3"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("main@abcdef012345"), std::string::npos) << text.out;
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

}  // namespace
}  // namespace allm::test
