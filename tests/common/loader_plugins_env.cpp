// Linked into test executables that load checkpoints: every format is read by
// a checkpoint_loader plugin (plugins/loader_*), so those are registered
// before any test runs, as the CLI registers them at start-up.
#include <gtest/gtest.h>

#include "arch_plugins.hpp"

namespace {

struct LoaderPlugins : ::testing::Environment {
  void SetUp() override { allm::test::load_loader_plugins(); }
};

[[maybe_unused]] ::testing::Environment* const environment =
    ::testing::AddGlobalTestEnvironment(new LoaderPlugins);

}  // namespace
