// The backend component kind: backends registered with a probe (score and
// reason), the best usable one chosen, a named one forced, and the errors for
// an unknown or unusable name listing what is installed; the CPU backend
// plugin registers itself; through the CLI, `allm info` lists the backends and
// `--backend` picks or refuses one.
#include <gtest/gtest.h>

#include <cstdio>
#include <functional>
#include <string>

#include <nlohmann/json.hpp>

#include "allm/backend.hpp"
#include "allm/engine.hpp"
#include "allm/error.hpp"
#include "engine_test_util.hpp"
#include "../common/run_command.hpp"
#include "remote_backend.hpp"

namespace allm::test {
namespace {

class FakeBackendFactory final : public BackendFactory {
 public:
  FakeBackendFactory(int score, std::string reason) : score_(score), reason_(std::move(reason)) {}
  BackendProbe probe() const override { return {score_, reason_}; }
  std::shared_ptr<Backend> create(int threads) const override {
    ++created;
    return std::make_shared<RemoteBackend>(threads > 0 ? threads : 1);
  }
  mutable int created = 0;

 private:
  int score_;
  std::string reason_;
};

// Registers the fakes for one test and takes them out again (the registry is
// process-wide; other tests must not pick a fake).
class BackendRegistry : public ::testing::Test {
 protected:
  void SetUp() override {
    load_arch_plugins();  // the real `cpu` backend plugin among them
    add("test-fast", fast);
    add("test-broken", broken);
  }
  void TearDown() override {
    Registry::instance().remove(ALLM_KIND_BACKEND, "test-fast");
    Registry::instance().remove(ALLM_KIND_BACKEND, "test-broken");
  }
  void add(const char* name, FakeBackendFactory& f) {
    Registry::instance().add({ALLM_KIND_BACKEND, name, 50, &f, "test", "<builtin>"});
  }
  FakeBackendFactory fast{50, "a fake device"};
  FakeBackendFactory broken{0, "no such device on this machine"};
};

std::string message_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const std::exception& e) {
    return e.what();
  }
  return "";
}

TEST_F(BackendRegistry, ListsEveryBackendBestFirstWithItsReason) {
  const auto all = list_backends();
  ASSERT_GE(all.size(), 3u);
  EXPECT_EQ(all[0].name, "test-fast");
  EXPECT_EQ(all[0].probe.score, 50);
  EXPECT_EQ(all.back().name, "test-broken");
  EXPECT_EQ(all.back().probe.score, 0);
  EXPECT_EQ(all.back().probe.reason, "no such device on this machine");
  bool cpu = false;
  for (const auto& b : all)
    if (b.name == "cpu") {
      cpu = true;
      EXPECT_GT(b.probe.score, 0);
      EXPECT_LT(b.probe.score, 50);  // any usable device backend outranks it
      EXPECT_EQ(b.plugin, "backend-cpu");
    }
  EXPECT_TRUE(cpu) << "the backend_cpu plugin did not register";
}

TEST_F(BackendRegistry, PicksTheHighestUsableScoreUnlessOneIsNamed) {
  auto best = create_backend("", 1);
  ASSERT_TRUE(best);
  EXPECT_STREQ(best->name(), "remote-test");
  EXPECT_EQ(fast.created, 1);
  auto cpu = create_backend("cpu", 1);
  ASSERT_TRUE(cpu);
  EXPECT_STREQ(cpu->name(), "cpu");
  EXPECT_EQ(fast.created, 1);
}

TEST_F(BackendRegistry, UnknownAndUnusableNamesListWhatIsInstalled) {
  EXPECT_THROW(create_backend("nope", 1), InvalidArgumentError);
  const std::string unknown = message_of([] { create_backend("nope", 1); });
  EXPECT_NE(unknown.find("'nope' is not installed"), std::string::npos) << unknown;
  EXPECT_NE(unknown.find("test-fast (score 50: a fake device)"), std::string::npos) << unknown;
  EXPECT_NE(unknown.find("test-broken (unusable: no such device on this machine)"), std::string::npos) << unknown;
  EXPECT_NE(unknown.find("cpu (score"), std::string::npos) << unknown;

  EXPECT_THROW(create_backend("test-broken", 1), UnsupportedError);
  const std::string unusable = message_of([] { create_backend("test-broken", 1); });
  EXPECT_NE(unusable.find("no such device on this machine"), std::string::npos) << unusable;
  EXPECT_EQ(broken.created, 0);
}

TEST_F(BackendRegistry, BuildModelRunsOnTheChosenBackend) {
  const Checkpoint ckpt = load_fixture("llama");
  ModelOptions named;
  named.threads = 1;
  named.backend_name = "cpu";
  EXPECT_EQ(build_model(ckpt, named)->info().backend, "cpu");
  ModelOptions best;
  best.threads = 1;
  EXPECT_EQ(build_model(ckpt, best)->info().backend, "remote-test");
  ModelOptions unknown;
  unknown.backend_name = "nope";
  EXPECT_THROW(build_model(ckpt, unknown), InvalidArgumentError);
}

CommandResult run_cli(const std::string& args) {
  return run_command(std::string(ALLM_CLI_BINARY) + " " + args + " 2>&1");
}

TEST(BackendCli, InfoListsTheBackends) {
  auto r = run_cli("info --json");
  ASSERT_EQ(r.status, 0) << r.out;
  const auto j = nlohmann::json::parse(r.out);
  bool cpu = false;
  for (const auto& b : j.at("backends"))
    if (b.at("name") == "cpu") {
      cpu = true;
      EXPECT_TRUE(b.at("usable").get<bool>());
      EXPECT_GT(b.at("score").get<int>(), 0);
      EXPECT_FALSE(b.at("reason").get<std::string>().empty());
    }
  EXPECT_TRUE(cpu) << r.out;
}

TEST(BackendCli, BackendFlagPicksOrRefuses) {
  const std::string model = fixture("llama").string();
  auto ok = run_cli("bench " + model + " --backend cpu --prompt-tokens 4 --gen-tokens 2 --threads 1 --no-bandwidth --json");
  ASSERT_EQ(ok.status, 0) << ok.out;
  EXPECT_EQ(nlohmann::json::parse(ok.out.substr(ok.out.find('{'))).at("backend"), "cpu");
  auto bad = run_cli("bench " + model + " --backend nope --prompt-tokens 4 --gen-tokens 2 --no-bandwidth");
  EXPECT_EQ(bad.status, 2) << bad.out;
  EXPECT_NE(bad.out.find("'nope' is not installed; available: cpu (score"), std::string::npos) << bad.out;
  auto run = run_cli("run " + model + " --backend nope --prompt-tokens 1,2 --max-tokens 1");
  EXPECT_EQ(run.status, 2) << run.out;
  EXPECT_NE(run.out.find("available: cpu"), std::string::npos) << run.out;
}

// --gpu-layers: a count of layers (0 or more) for a device backend; with the
// CPU backend the model simply runs there; a negative count is refused by
// every command that loads a model, naming the flag.
TEST(BackendCli, GpuLayersFlag) {
  const std::string model = fixture("llama").string();
  auto ok = run_cli("bench " + model +
                    " --backend cpu --gpu-layers 1 --prompt-tokens 4 --gen-tokens 2 --threads 1 --no-bandwidth --json");
  ASSERT_EQ(ok.status, 0) << ok.out;
  EXPECT_EQ(nlohmann::json::parse(ok.out.substr(ok.out.find('{'))).at("backend"), "cpu");
  auto run = run_cli("run " + model + " --gpu-layers 1 --prompt-tokens 1,2 --max-tokens 1 --threads 1");
  EXPECT_EQ(run.status, 0) << run.out;
  for (const std::string& cmd : {"bench " + model + " --prompt-tokens 4 --gen-tokens 2 --no-bandwidth",
                                "run " + model + " --prompt-tokens 1,2 --max-tokens 1", "chat " + model}) {
    auto bad = run_cli(cmd + " --gpu-layers -2");
    EXPECT_EQ(bad.status, 2) << cmd << ": " << bad.out;
    EXPECT_NE(bad.out.find("--gpu-layers must be 0 or more layers, got -2"), std::string::npos) << cmd << ": " << bad.out;
  }
}

}  // namespace
}  // namespace allm::test
