// A GGUF file through the local provider: tokenizer and chat template come
// from the file itself.
#include <gtest/gtest.h>

#include "local_test_util.hpp"

namespace allm::local::test {
namespace {

std::string gguf(const std::string& name) { return std::string(ALLM_TEST_DATA_DIR) + "/gguf/" + name; }

TEST(LocalGguf, RunsWithTheFilesOwnTokenizerAndTemplate) {
  auto p = make_provider(gguf("qwen3-f32.gguf"));
  Capabilities c = p->capabilities();
  EXPECT_EQ(c.model_info["model_type"], "qwen3");
  GenerateRequest r = greedy("hello there", 6);
  RenderedPrompt prompt = p->render(r);
  EXPECT_NE(prompt.text.find("hello there"), std::string::npos);
  EXPECT_FALSE(prompt.ids.empty());
  GenerateResponse out = p->generate(r);
  EXPECT_EQ(out.token_ids.size(), 6u);
  EXPECT_EQ(out.usage.prompt_tokens, static_cast<int64_t>(prompt.ids.size()));
}

}  // namespace
}  // namespace allm::local::test
