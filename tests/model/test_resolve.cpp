// Model resolution (paths, HF cache repo ids and revisions), HF cache
// listing, and pluggable loaders for other file formats.
#include <algorithm>
#include <cstdlib>
#include <tuple>

#include <gtest/gtest.h>

#include "allm/checkpoint_loader.hpp"
#include "allm/error.hpp"
#include "allm/host/plugin_metadata.hpp"
#include "allm/model_loader.hpp"
#include "allm/registry.hpp"
#include "test_util.hpp"

namespace allm::test {
namespace {

namespace fs = std::filesystem;

const std::string kMain = "1111111111111111111111111111111111111111";
const std::string kOld = "2222222222222222222222222222222222222222";

// Sets an environment variable for one test, restoring it after.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const std::string& value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    ::setenv(name, value.c_str(), 1);
  }
  ~ScopedEnv() {
    if (old_)
      ::setenv(name_, old_->c_str(), 1);
    else
      ::unsetenv(name_);
  }

 private:
  const char* name_;
  std::optional<std::string> old_;
};

// Builds a hub-cache repo the way huggingface_hub lays it out: blobs, refs,
// snapshots of symlinks into blobs.
void add_cached_repo(const fs::path& cache, const std::string& org_name, const std::string& fixture_name,
                     const std::string& commit, const std::string& ref) {
  const fs::path repo = cache / ("models--" + org_name);
  fs::create_directories(repo / "blobs");
  fs::create_directories(repo / "snapshots" / commit);
  for (const auto& e : fs::directory_iterator(fixture(fixture_name))) {
    const std::string blob = commit.substr(0, 8) + "-" + e.path().filename().string();
    fs::copy_file(e.path(), repo / "blobs" / blob, fs::copy_options::overwrite_existing);
    fs::create_symlink(fs::path("../../blobs") / blob, repo / "snapshots" / commit / e.path().filename());
  }
  if (!ref.empty()) {
    fs::create_directories((repo / "refs" / ref).parent_path());
    write_file(repo / "refs" / ref, commit);
  }
}

class HfCache : public ::testing::Test {
 protected:
  void SetUp() override {
    add_cached_repo(tmp_.path(), "acme--tiny-qwen3", "qwen3", kMain, "main");
    add_cached_repo(tmp_.path(), "acme--tiny-qwen3", "qwen3-bf16", kOld, "v1.0");
  }
  TempDir tmp_;
  ScopedEnv env_{"HF_HUB_CACHE", tmp_.path().string()};
};

TEST_F(HfCache, RepoIdResolvesMainToItsSnapshot) {
  ResolvedModel r = resolve_model("acme/tiny-qwen3");
  EXPECT_EQ(r.kind, "hf-cache");
  EXPECT_EQ(r.repo_id, "acme/tiny-qwen3");
  EXPECT_EQ(r.revision, "main");
  EXPECT_EQ(r.commit, kMain);
  EXPECT_EQ(r.path, tmp_ / "models--acme--tiny-qwen3" / "snapshots" / kMain);
  Checkpoint ck = load_checkpoint(r.path);
  EXPECT_EQ(ck.model_type, "qwen3");
  EXPECT_EQ(ck.dtype, "float32");
}

TEST_F(HfCache, RevisionByTagCommitAndCommitPrefix) {
  EXPECT_EQ(resolve_model("acme/tiny-qwen3@v1.0").commit, kOld);
  EXPECT_EQ(resolve_model("acme/tiny-qwen3@" + kOld).commit, kOld);
  EXPECT_EQ(resolve_model("acme/tiny-qwen3@2222222").commit, kOld);
  EXPECT_EQ(load_checkpoint(resolve_model("acme/tiny-qwen3@v1.0").path).dtype, "bfloat16");
}

TEST_F(HfCache, NotFoundListsEveryPlaceLookedIn) {
  auto msg = error_message<ModelLoadError>([] { resolve_model("acme/tiny-qwen3@v9"); });
  EXPECT_NE(msg.find("model 'acme/tiny-qwen3@v9' not found; looked in:"), std::string::npos) << msg;
  EXPECT_NE(msg.find("path "), std::string::npos) << msg;
  EXPECT_NE(msg.find("revision 'v9' not cached; cached revisions: 111111111111 (main), 222222222222 (v1.0)"),
            std::string::npos)
      << msg;
  msg = error_message<ModelLoadError>([] { resolve_model("acme/absent"); });
  EXPECT_NE(msg.find((tmp_ / "models--acme--absent").string() + " (not downloaded)"), std::string::npos) << msg;
  msg = error_message<ModelLoadError>([] { resolve_model("./no/such/dir/model.gguf"); });
  EXPECT_NE(msg.find("not a repo id"), std::string::npos) << msg;
}

TEST_F(HfCache, ScanListsReposRevisionsSizeAndLastUse) {
  add_cached_repo(tmp_.path(), "acme--tiny-llama", "llama", kMain, "main");
  fs::create_directories(tmp_ / "datasets--acme--data");
  auto repos = scan_hf_cache(tmp_.path());
  ASSERT_EQ(repos.size(), 2u);
  EXPECT_EQ(repos[0].repo_id, "acme/tiny-llama");
  EXPECT_EQ(repos[1].repo_id, "acme/tiny-qwen3");
  ASSERT_EQ(repos[1].revisions.size(), 2u);
  EXPECT_EQ(repos[1].revisions[0].commit, kMain);
  EXPECT_EQ(repos[1].revisions[0].refs, std::vector<std::string>{"main"});
  EXPECT_EQ(repos[1].revisions[1].refs, std::vector<std::string>{"v1.0"});
  uint64_t expect = 0;
  for (const char* f : {"qwen3", "qwen3-bf16"})
    for (const auto& e : fs::directory_iterator(fixture(f))) expect += fs::file_size(e.path());
  EXPECT_EQ(repos[1].size_on_disk, expect);
  EXPECT_GT(repos[1].last_used, 1600000000);
  EXPECT_TRUE(scan_hf_cache(tmp_ / "absent").empty());
}

TEST(HfCacheDir, EnvironmentPrecedence) {
  ScopedEnv hub("HF_HUB_CACHE", "/a/hub");
  EXPECT_EQ(hf_hub_cache_dir(), fs::path("/a/hub"));
  ::unsetenv("HF_HUB_CACHE");
  ScopedEnv legacy("HUGGINGFACE_HUB_CACHE", "");
  ScopedEnv home("HF_HOME", "/b");
  EXPECT_EQ(hf_hub_cache_dir(), fs::path("/b/hub"));
  ::unsetenv("HF_HOME");
  ScopedEnv xdg("XDG_CACHE_HOME", "");
  ScopedEnv user_home("HOME", "/home/u");
  EXPECT_EQ(hf_hub_cache_dir(), fs::path("/home/u/.cache/huggingface/hub"));
}

TEST(ResolvePath, DirectoriesAndFiles) {
  ResolvedModel d = resolve_model(fixture("llama").string());
  EXPECT_EQ(d.kind, "directory");
  EXPECT_EQ(d.path, fixture("llama"));
  ResolvedModel f = resolve_model((fixture("llama") / "model.safetensors").string());
  EXPECT_EQ(f.kind, "file");
  EXPECT_THROW(resolve_model(""), ModelLoadError);
}

TEST(ResolvePath, GgufOnlySnapshotResolvesToItsFile) {
  TempDir tmp;
  ScopedEnv env("HF_HUB_CACHE", tmp.path().string());
  const fs::path snap = tmp / "models--acme--tiny-GGUF" / "snapshots" / kMain;
  fs::create_directories(snap);
  fs::create_directories(tmp / "models--acme--tiny-GGUF" / "refs");
  write_file(tmp / "models--acme--tiny-GGUF" / "refs" / "main", kMain + "\n");
  write_file(snap / "tiny-Q4_0.gguf", "GGUF");
  EXPECT_EQ(resolve_model("acme/tiny-GGUF").path, snap / "tiny-Q4_0.gguf");
  write_file(snap / "tiny-Q8_0.gguf", "GGUF");
  auto msg = error_message<ModelLoadError>([] { resolve_model("acme/tiny-GGUF"); });
  EXPECT_NE(msg.find("several .gguf files"), std::string::npos) << msg;
}

// A loader is a component like any other kind: one registered in the
// registry (as a plugin's component table does) is asked before the others
// of lower score, and takes only the files it accepts.
TEST(CheckpointLoaders, RegisteredLoaderClaimsItsFiles) {
  TempDir tmp;
  write_file(tmp / "model.fake", "FAKE");
  auto msg = error_message<UnsupportedError>([&] { load_checkpoint(tmp / "model.fake"); });
  EXPECT_NE(msg.find("model.fake: not a model directory"), std::string::npos) << msg;
  EXPECT_NE(msg.find("gguf (loader-gguf)"), std::string::npos) << msg;  // the loaders asked, by plugin

  struct FakeLoader final : CheckpointLoader {
    bool accepts(const fs::path& p) const override { return p.extension() == ".fake"; }
    Checkpoint load(const fs::path& p) const override {
      Checkpoint ck;
      ck.source = p;
      ck.model_type = "fake";
      ck.weights = std::make_shared<MappedWeightStore>(p.string());
      return ck;
    }
    std::string describe() const override { return "fake files"; }
  };
  static FakeLoader fake;
  Registry::instance().add({ALLM_KIND_CHECKPOINT_LOADER, "fake", 1000, &fake, "test-fake", "<test>"});
  ASSERT_EQ(Registry::instance().checkpoint_loader("fake"), &fake);
  auto names = checkpoint_loader_names();
  ASSERT_FALSE(names.empty());
  EXPECT_EQ(names.front(), "fake");  // highest score first
  EXPECT_NE(std::find(names.begin(), names.end(), "safetensors"), names.end());
  EXPECT_NE(std::find(names.begin(), names.end(), "gguf"), names.end());
  Checkpoint ck = load_checkpoint(tmp / "model.fake");
  EXPECT_EQ(ck.model_type, "fake");
  EXPECT_EQ(ck.source, tmp / "model.fake");
  // Directories still go to the safetensors loader, asked after the fake one.
  EXPECT_EQ(load_checkpoint(fixture("llama")).model_type, "llama");
}

// A front end hands what it resolved to a provider as JSON: every field
// comes back, a store's entry included; a wrong field is named.
TEST(ResolveModel, ResolvedModelJsonRoundTrip) {
  ResolvedModel m;
  m.path = "/models/blob";
  m.kind = "ollama";
  m.repo_id = "org/x";
  m.revision = "main";
  m.commit = "0123abc";
  StoredModel st;
  st.store = "ollama";
  st.name = "llama3.2:latest";
  st.path = "/models/blob";
  st.where = "/models/manifest";
  st.format = "gguf";
  st.quantization = "Q4_K_M";
  st.size = 123456789012ull;
  st.ollama_template = "{{ .Prompt }}";
  st.ollama_system = "be brief";
  st.ollama_params = {{"temperature", 0.5}, {"stop", {"</s>"}}};
  m.stored = st;
  const ResolvedModel back = resolved_model_from_json(resolved_model_to_json(m), "resolved");
  EXPECT_EQ(back.path, m.path);
  EXPECT_EQ(back.kind, m.kind);
  EXPECT_EQ(back.repo_id, m.repo_id);
  EXPECT_EQ(back.revision, m.revision);
  EXPECT_EQ(back.commit, m.commit);
  ASSERT_TRUE(back.stored);
  EXPECT_EQ(back.stored->name, st.name);
  EXPECT_EQ(back.stored->where, st.where);
  EXPECT_EQ(back.stored->quantization, st.quantization);
  EXPECT_EQ(back.stored->size, st.size);
  EXPECT_EQ(back.stored->ollama_template, st.ollama_template);
  EXPECT_EQ(back.stored->ollama_system, st.ollama_system);
  EXPECT_EQ(back.stored->ollama_params, st.ollama_params);
  m.stored.reset();
  EXPECT_FALSE(resolved_model_from_json(resolved_model_to_json(m), "resolved").stored);

  nlohmann::json bad = resolved_model_to_json(m);
  bad["kind"] = 3;
  auto msg = error_message<InvalidArgumentError>([&] { resolved_model_from_json(bad, "options.resolved"); });
  EXPECT_NE(msg.find("options.resolved.kind: expected a string, got 3"), std::string::npos) << msg;
}

// The loaders are plugins with the metadata every plugin has, readable
// without running them.
TEST(CheckpointLoaders, LoadersArePluginComponents) {
  const auto loaders = Registry::instance().list(ALLM_KIND_CHECKPOINT_LOADER);
  auto entry = [&](const std::string& name) -> const ComponentEntry* {
    for (const auto& e : loaders)
      if (e.name == name) return &e;
    return nullptr;
  };
  using Expected = std::tuple<std::string, std::string, std::string>;  // component, plugin, file
  for (const auto& [name, plugin, file] : {Expected{"gguf", "loader-gguf", "loader_gguf.so"},
                                           Expected{"safetensors", "loader-safetensors", "loader_safetensors.so"}}) {
    const ComponentEntry* e = entry(name);
    ASSERT_NE(e, nullptr) << name;
    EXPECT_EQ(e->plugin, plugin);
    EXPECT_EQ(fs::path(e->path).filename(), file);
    const auto meta = host::read_plugin_metadata(e->path);
    EXPECT_EQ(meta.at("name"), plugin);
  }
}

TEST(CheckpointLoaders, BadGgufFileFailsNamingTheFile) {
  // Unsupported when no GGUF loader is registered; the GGUF loader's own
  // error once one is. Either way a typed error that names the file.
  TempDir tmp;
  write_file(tmp / "m.gguf", "GGUF");
  try {
    load_checkpoint(tmp / "m.gguf");
    ADD_FAILURE() << "a 4-byte .gguf loaded";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("m.gguf"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace allm::test
