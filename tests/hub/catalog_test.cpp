// The model catalog: the built-in file parses, its repos are well-formed, the
// choice `allm pull NAME` makes, and a malformed catalog is an error naming
// the entry and field.
#include <gtest/gtest.h>

#include "allm/error.hpp"
#include "allm/hub/catalog.hpp"
#include "allm/hub/pull.hpp"

namespace {

using namespace allm::hub;

TEST(HubCatalog, BuiltinEntriesAreComplete) {
  const auto& entries = catalog();
  ASSERT_GE(entries.size(), 10u);
  for (const auto& e : entries) {
    EXPECT_FALSE(e.license.empty()) << e.name;
    EXPECT_GT(catalog_kv_bytes(e, 1024), 0u) << e.name;
    for (const auto& v : e.variants) {
      EXPECT_NO_THROW(parse_repo_spec(v.repo)) << e.name << ": " << v.repo;
      if (v.format == "gguf") {
        EXPECT_TRUE(v.file.size() > 5 && v.file.substr(v.file.size() - 5) == ".gguf") << e.name << ": " << v.file;
      }
    }
  }
}

TEST(HubCatalog, PickVariant) {
  const auto entries = parse_catalog(R"({"models": [{"name": "m", "params_b": 1, "context": 8, "layers": 1,
    "kv_heads": 1, "head_dim": 8, "license": "mit", "safetensors": "o/m",
    "gguf": {"repo": "o/m-GGUF", "files": {"Q8_0": "m-Q8_0.gguf", "Q4_K_M": "m-Q4_K_M.gguf"}}}]})",
                                     "test");
  const auto& e = entries[0];
  EXPECT_EQ(pick_variant(e, "", "").file, "m-Q4_K_M.gguf");
  EXPECT_EQ(pick_variant(e, "", "q8_0").file, "m-Q8_0.gguf");
  EXPECT_EQ(pick_variant(e, "safetensors", "").repo, "o/m");
  EXPECT_THROW(pick_variant(e, "mlx", ""), allm::InvalidArgumentError);
  // 1e9 parameters at 8.5 bits; KV: 2 x 1 x 1 x 8 x 100 x 4 bytes.
  EXPECT_EQ(variant_weight_bytes(e, pick_variant(e, "", "Q8_0")), 1062500000u);
  EXPECT_EQ(catalog_kv_bytes(e, 100), 6400u);
}

TEST(HubCatalog, MalformedEntriesNameTheField) {
  auto message = [](const std::string& text) {
    try {
      parse_catalog(text, "cat.json");
    } catch (const allm::ConfigError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_NE(message("{").find("cat.json: not JSON"), std::string::npos);
  EXPECT_NE(message(R"({"models": [{"name": "x", "params_b": 1, "context": 8, "kv_heads": 1, "head_dim": 8,
    "safetensors": "o/x"}]})")
                .find("cat.json: models[0] (x).layers"),
            std::string::npos);
  EXPECT_NE(message(R"({"models": [{"name": "x", "params_b": 1, "context": 8, "layers": 1, "kv_heads": 1,
    "head_dim": 8}]})")
                .find("no repo given"),
            std::string::npos);
}

}  // namespace
