// Providers created by name through the Registry, as the host does.
#include <gtest/gtest.h>

#include "allm/error.hpp"
#include "allm/registry.hpp"
#include "fake_provider.hpp"

namespace {

// Options: {"model": NAME, "config": {"generation": {...}}}.
class FakeFactory : public allm::ProviderFactory {
 public:
  std::shared_ptr<allm::Provider> create(const nlohmann::json& options) const override {
    fake::FakeOptions o;
    o.model = options.value("model", "fake-model");
    if (options.contains("config") && options["config"].contains("generation"))
      o.config_defaults = allm::GenerationParams::from_json(options["config"]["generation"], "config.generation");
    return std::make_shared<fake::FakeProvider>(o, allm::MediaLimits::from_config(options.value("config", nlohmann::json::object())));
  }
  std::string description() const override { return "in-process fake engine"; }
};

}  // namespace

TEST(ProviderFactory, CreateByRegisteredName) {
  static FakeFactory factory;
  allm::Registry::instance().clear();
  allm::Registry::instance().add({ALLM_KIND_PROVIDER, "fake", 100, &factory, "test", "<builtin>"});
  auto p = allm::create_provider("fake", {{"model", "tiny"}, {"config", {{"generation", {{"max_tokens", 3}}}}}});
  allm::GenerateRequest r;
  r.prompt = "hi";
  auto resp = p->generate_async(r).get();
  EXPECT_EQ(resp.model, "tiny");
  EXPECT_EQ(resp.finish_reason, "length");
  EXPECT_EQ(resp.text, "Hello world,");
  try {
    allm::create_provider("remote", {});
    FAIL();
  } catch (const allm::PluginLoadError& e) {
    EXPECT_NE(std::string(e.what()).find("no provider named 'remote' is registered (registered: fake)"),
              std::string::npos)
        << e.what();
  }
  allm::Registry::instance().clear();
  EXPECT_THROW(allm::create_provider("fake", {}), allm::PluginLoadError);
}
