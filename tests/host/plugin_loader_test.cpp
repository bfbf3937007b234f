// The plugin loader against good and deliberately broken plugins.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "allm/host/plugin_loader.hpp"

namespace fs = std::filesystem;
using allm::host::PluginLoader;
using allm::host::PluginRecord;

namespace {

// A scratch directory holding copies of the chosen test plugins.
class PluginDir {
 public:
  PluginDir() {
    path_ = fs::temp_directory_path() / ("allm-plugins-" + std::to_string(::getpid()) + "-" + std::to_string(counter_++));
    fs::remove_all(path_);
    fs::create_directories(path_);
  }
  ~PluginDir() { fs::remove_all(path_); }
  void add(const std::string& name, const std::string& as = "") {
    fs::copy_file(fs::path(ALLM_TEST_PLUGIN_DIR) / (name + ".so"), path_ / (as.empty() ? name + ".so" : as));
  }
  void write(const std::string& file, const std::string& content) { std::ofstream(path_ / file) << content; }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
  static inline int counter_ = 0;
};

const PluginRecord& load_one(PluginLoader& loader, const PluginDir& dir, const std::string& file) {
  return loader.load_file(dir.path() / file, "test");
}

}  // namespace

TEST(PluginLoader, LoadsGoodPluginAndRegistersComponents) {
  PluginDir dir;
  dir.add("good_a");
  allm::Registry registry;
  PluginLoader loader(registry);
  auto rec = load_one(loader, dir, "good_a.so");
  ASSERT_TRUE(rec.loaded) << rec.reason;
  EXPECT_EQ(rec.name, "test-good-a");
  EXPECT_EQ(rec.version, "1.0.0");
  ASSERT_EQ(rec.components.size(), 2u);
  auto* e = registry.find(ALLM_KIND_ARCHITECTURE, "test-arch-a");
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->plugin, "test-good-a");
  EXPECT_EQ(fs::path(e->path).filename(), "good_a.so");
  EXPECT_EQ(*static_cast<int*>(e->impl), 42);  // the plugin's own object crosses the boundary
}

struct BrokenCase {
  std::string file;
  std::string reason_contains;
};

class BrokenPlugin : public ::testing::TestWithParam<BrokenCase> {};

TEST_P(BrokenPlugin, IsSkippedWithReasonAndOthersStillLoad) {
  PluginDir dir;
  const auto& c = GetParam();
  if (c.file == "empty.so")
    dir.write("empty.so", "");
  else if (c.file == "x.so")
    dir.write("x.so", std::string(200, '#') + "\nthis is a text file, not a shared object\n");
  else
    dir.add(fs::path(c.file).stem().string());
  dir.add("good_a", "zz_good_a.so");  // sorts after the broken one

  allm::Registry registry;
  PluginLoader loader(registry);
  loader.load_all({{dir.path(), "test"}});
  ASSERT_EQ(loader.plugins().size(), 2u);
  const auto& broken = loader.plugins()[0];
  EXPECT_FALSE(broken.loaded);
  EXPECT_NE(broken.reason.find(c.reason_contains), std::string::npos) << "reason was: " << broken.reason;
  EXPECT_EQ(broken.reason.find('\n'), std::string::npos) << "reason must be one line";
  EXPECT_TRUE(loader.plugins()[1].loaded);
  EXPECT_NE(registry.find(ALLM_KIND_ARCHITECTURE, "test-arch-a"), nullptr);
}

INSTANTIATE_TEST_SUITE_P(
    AllCases, BrokenPlugin,
    ::testing::Values(BrokenCase{"empty.so", "not a loadable shared object"},
                      BrokenCase{"x.so", "not a loadable shared object (invalid ELF header)"},
                      BrokenCase{"no_entry.so", "no entry symbol 'allm_plugin_entry'"},
                      BrokenCase{"abi_major.so", "ABI major " + std::to_string(ALLM_ABI_MAJOR + 1) +
                                                       " does not match the host's " + std::to_string(ALLM_ABI_MAJOR)},
                      BrokenCase{"abi_minor.so", "ABI minor " + std::to_string(ALLM_ABI_MINOR + 1) +
                                                       " is newer than the host's " + std::to_string(ALLM_ABI_MINOR)},
                      BrokenCase{"throws.so", "entry point threw: plugin exploded on purpose"},
                      BrokenCase{"null.so", "entry point returned null"},
                      BrokenCase{"no_name.so", "descriptor has no name"},
                      BrokenCase{"no_impl.so", "component 0 ('no-impl') has no implementation"},
                      BrokenCase{"short_struct.so", "descriptor struct_size 12 is smaller than"}),
    [](const auto& info) {
      auto s = fs::path(info.param.file).stem().string();
      for (auto& ch : s)
        if (ch == '-') ch = '_';
      return s;
    });

TEST(PluginLoader, FirstInSearchOrderWinsAndDuplicateIsReported) {
  PluginDir first, second;
  first.add("good_a");
  second.add("good_b");
  allm::Registry registry;
  PluginLoader loader(registry);
  loader.load_all({{first.path(), "--plugin-dir"}, {second.path(), "user"}});
  auto* e = registry.find(ALLM_KIND_TOKENIZER, "shared-name");
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->plugin, "test-good-a");  // despite good_b's higher score: search order decides
  const auto& b = loader.plugins()[1];
  ASSERT_TRUE(b.loaded);
  ASSERT_EQ(b.components[0].name, "shared-name");
  EXPECT_FALSE(b.components[0].active);
  EXPECT_NE(b.components[0].note.find("shadowed by test-good-a"), std::string::npos) << b.components[0].note;
  // good_b's other component still registers.
  EXPECT_NE(registry.find(ALLM_KIND_MEDIA_HANDLER, "test-media-b"), nullptr);
}

TEST(PluginLoader, ScoreZeroComponentIsNotRegistered) {
  PluginDir dir;
  dir.add("good_b");
  allm::Registry registry;
  PluginLoader loader(registry);
  loader.load_all({{dir.path(), "test"}});
  EXPECT_EQ(registry.find(ALLM_KIND_PROVIDER, "test-cannot-run"), nullptr);
  EXPECT_NE(loader.plugins()[0].components[2].note.find("cannot run on this machine"), std::string::npos);
}

TEST(PluginLoader, MissingDirectoryIsNotAnError) {
  allm::Registry registry;
  PluginLoader loader(registry);
  loader.load_all({{"/nonexistent/allm/plugins", "test"}});
  EXPECT_TRUE(loader.plugins().empty());
  EXPECT_EQ(loader.searched().size(), 1u);
}
