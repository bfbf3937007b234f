// The documented plugin search order.
#include <gtest/gtest.h>

#include <cstdlib>

#include "allm/host/plugin_loader.hpp"

using allm::host::plugin_search_dirs;

TEST(SearchOrder, FlagThenEnvThenConfigThenUserThenInstall) {
  ::setenv("ALLM_PLUGIN_PATH", "/env/one:/env/two", 1);
  ::setenv("HOME", "/home/tester", 1);
  auto dirs = plugin_search_dirs({"/flag/a", "/flag/b"}, {"/config/c"});
  ::unsetenv("ALLM_PLUGIN_PATH");
  ASSERT_EQ(dirs.size(), 7u);
  EXPECT_EQ(dirs[0].path, "/flag/a");
  EXPECT_EQ(dirs[0].source, "--plugin-dir");
  EXPECT_EQ(dirs[1].path, "/flag/b");
  EXPECT_EQ(dirs[2].path, "/env/one");
  EXPECT_EQ(dirs[2].source, "ALLM_PLUGIN_PATH");
  EXPECT_EQ(dirs[3].path, "/env/two");
  EXPECT_EQ(dirs[4].path, "/config/c");
  EXPECT_EQ(dirs[4].source, "config plugin_dirs");
  EXPECT_EQ(dirs[5].path, "/home/tester/.local/lib/allm/plugins");
  EXPECT_EQ(dirs[5].source, "user");
  EXPECT_EQ(dirs[6].source, "install");
  EXPECT_EQ(dirs[6].path.filename(), "plugins");
}

TEST(SearchOrder, DuplicatesKeepTheirFirstPosition) {
  ::setenv("ALLM_PLUGIN_PATH", "/same", 1);
  auto dirs = plugin_search_dirs({"/same"}, {"/same"});
  ::unsetenv("ALLM_PLUGIN_PATH");
  ASSERT_GE(dirs.size(), 1u);
  EXPECT_EQ(dirs[0].path, "/same");
  EXPECT_EQ(dirs[0].source, "--plugin-dir");
  for (size_t i = 1; i < dirs.size(); ++i) EXPECT_NE(dirs[i].path, "/same");
}
