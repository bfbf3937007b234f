// File selection of `allm pull`: globs against Python's fnmatch (what
// huggingface_hub's allow/ignore patterns use), run here as the oracle, and
// the default choice of files over repo layouts seen on the hub.
#include <gtest/gtest.h>

#include <cstdio>
#include <string>
#include <vector>

#include "allm/error.hpp"
#include "allm/hub/pull.hpp"

namespace {

using allm::hub::glob_match;
using allm::hub::select_files;

const std::vector<std::string> kPatterns = {"*.gguf", "*Q4_K_M.gguf", "original/", "original/*", "*/*.json",
                                            "model-0000?-of-00002.safetensors", "[a-c]*.json", "[!c]*.json",
                                            "*.[jt]*", "tokenizer*", "*", "config.json", "*q4_k_m*", "a[]b", "[",
                                            "**/*.bin", "sub/**", "*.safe*", "?onfig.json", "[0-9]*"};
const std::vector<std::string> kPaths = {"config.json", "model.safetensors", "Qwen3-0.6B-Q4_K_M.gguf",
                                         "qwen3-0.6b-q4_k_m.gguf", "original/consolidated.pth", "original/params.json",
                                         "sub/dir/pytorch_model.bin", "model-00001-of-00002.safetensors", "a]b",
                                         "[", "tokenizer.model", "bconfig.json", "cfg.json", "1.txt", ""};

TEST(HubSelect, GlobsMatchPythonFnmatch) {
  std::string script = "import fnmatch\npats = [";
  for (const auto& p : kPatterns) script += "'" + p + "',";
  script += "]\npaths = [";
  for (const auto& p : kPaths) script += "'" + p + "',";
  script += "]\nprint(''.join('1' if fnmatch.fnmatchcase(f, p + '*' if p.endswith('/') else p) else '0' "
            "for p in pats for f in paths))\n";
  const std::string file = testing::TempDir() + "/fnmatch_oracle.py";
  FILE* f = std::fopen(file.c_str(), "w");
  ASSERT_NE(f, nullptr);
  std::fputs(script.c_str(), f);
  std::fclose(f);
  FILE* pipe = ::popen(("python3 " + file).c_str(), "r");
  ASSERT_NE(pipe, nullptr);
  char buf[4096] = {};
  const size_t n = std::fread(buf, 1, sizeof buf - 1, pipe);
  ASSERT_EQ(::pclose(pipe), 0);
  const std::string want(buf, n > 0 && buf[n - 1] == '\n' ? n - 1 : n);
  ASSERT_EQ(want.size(), kPatterns.size() * kPaths.size());
  size_t i = 0;
  for (const auto& p : kPatterns)
    for (const auto& path : kPaths) {
      EXPECT_EQ(glob_match(p, path), want[i] == '1') << "pattern '" << p << "' path '" << path << "'";
      ++i;
    }
}

TEST(HubSelect, SafetensorsRepoSkipsOriginalAndOtherFormats) {
  const std::vector<std::string> repo = {".gitattributes", "LICENSE", "README.md", "config.json",
                                         "generation_config.json", "model-00001-of-00002.safetensors",
                                         "model-00002-of-00002.safetensors", "model.safetensors.index.json",
                                         "original/consolidated.00.pth", "original/params.json",
                                         "original/tokenizer.model", "pytorch_model.bin", "special_tokens_map.json",
                                         "tokenizer.json", "tokenizer_config.json"};
  const auto sel = select_files(repo, {}, {});
  EXPECT_EQ(sel.files, (std::vector<std::string>{"config.json", "generation_config.json",
                                                 "model.safetensors.index.json", "special_tokens_map.json",
                                                 "tokenizer.json", "tokenizer_config.json",
                                                 "model-00001-of-00002.safetensors",
                                                 "model-00002-of-00002.safetensors"}));
  const auto no_index = select_files(repo, {}, {"*.index.json", "generation_config.json"});
  EXPECT_EQ(no_index.files.size(), 6u);
}

TEST(HubSelect, GgufRepoTakesOneQuantization) {
  const std::vector<std::string> repo = {"README.md", "Qwen3-0.6B-Q4_K_M.gguf", "Qwen3-0.6B-Q8_0.gguf",
                                         "Qwen3-0.6B-F16.gguf"};
  const auto def = select_files(repo, {}, {});
  EXPECT_EQ(def.files, std::vector<std::string>{"Qwen3-0.6B-Q4_K_M.gguf"});
  EXPECT_EQ(def.notes.size(), 1u);
  EXPECT_EQ(select_files(repo, {"*Q8_0.gguf"}, {}).files, std::vector<std::string>{"Qwen3-0.6B-Q8_0.gguf"});
  // Several GGUFs and none Q4_K_M: the user must pick, and is told the names.
  try {
    select_files({"x-Q8_0.gguf", "x-F16.gguf"}, {}, {});
    FAIL() << "expected an error";
  } catch (const allm::InvalidArgumentError& e) {
    EXPECT_NE(std::string(e.what()).find("x-F16.gguf"), std::string::npos) << e.what();
  }
  EXPECT_THROW(select_files(repo, {"*Q2_K.gguf"}, {}), allm::InvalidArgumentError);
  EXPECT_THROW(select_files({"README.md", "pytorch_model.bin", "config.json"}, {}, {}), allm::UnsupportedError);
}

TEST(HubSelect, RepoSpecs) {
  EXPECT_EQ(allm::hub::parse_repo_spec("Qwen/Qwen3-0.6B"), std::make_pair(std::string("Qwen/Qwen3-0.6B"), std::string("main")));
  EXPECT_EQ(allm::hub::parse_repo_spec("a/b@refs/pr/1").second, "refs/pr/1");
  EXPECT_THROW(allm::hub::parse_repo_spec("noslash"), allm::InvalidArgumentError);
  EXPECT_THROW(allm::hub::parse_repo_spec("a/b@"), allm::InvalidArgumentError);
  EXPECT_THROW(allm::hub::parse_repo_spec("a/../b"), allm::InvalidArgumentError);
  EXPECT_EQ(allm::hub::repo_folder_name("Qwen/Qwen3-0.6B"), "models--Qwen--Qwen3-0.6B");
}

}  // namespace
