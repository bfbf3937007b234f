// Small tokenizers that swap in every other component (normalizers,
// pre-tokenizers and split behaviours, added-token flags, Metaspace, byte
// fallback, WordPiece, post-processors, decoders). Expected outputs were
// produced by HF tokenizers 0.23.2 itself (tests/tokenizer/make_synthetic.py,
// bench/tokenizer/hf_cases.js).
#include <gtest/gtest.h>

#include "hf_factory.hpp"
#include "test_support.hpp"

namespace allm::test {
namespace {

std::vector<std::string> synthetic_names() {
  std::vector<std::string> names;
  for (auto& entry : std::filesystem::directory_iterator(data_dir() / "synthetic")) {
    std::string file = entry.path().filename().string();
    const std::string suffix = ".tokenizer.json";
    if (file.size() > suffix.size() && file.compare(file.size() - suffix.size(), suffix.size(), suffix) == 0)
      names.push_back(file.substr(0, file.size() - suffix.size()));
  }
  std::sort(names.begin(), names.end());
  return names;
}

class SyntheticTokenizer : public ::testing::TestWithParam<std::string> {};

TEST_P(SyntheticTokenizer, MatchesHuggingFace) {
  const std::string name = GetParam();
  auto dir = data_dir() / "synthetic";
  auto tok = hf::HfTokenizerFactory().load(dir / (name + ".tokenizer.json"));
  auto cases = read_jsonl(dir / (name + ".cases.jsonl"));
  ASSERT_GT(cases.size(), 50u);
  for (auto& c : cases) {
    const std::string text = c["text"];
    auto expected = c["ids"].get<std::vector<TokenId>>();
    EXPECT_EQ(tok->encode(text, false), expected) << name << " ids of " << nlohmann::json(text).dump();
    EXPECT_EQ(tok->encode(text, true), c["ids_with_special_tokens"].get<std::vector<TokenId>>())
        << name << " ids_with_special_tokens of " << nlohmann::json(text).dump();
    EXPECT_EQ(tok->decode(expected, false), c["decoded"].get<std::string>())
        << name << " decoded of " << nlohmann::json(text).dump();
    EXPECT_EQ(tok->decode(expected, true), c["decoded_skip_special"].get<std::string>())
        << name << " decoded_skip_special of " << nlohmann::json(text).dump();
  }
}

INSTANTIATE_TEST_SUITE_P(Components, SyntheticTokenizer, ::testing::ValuesIn(synthetic_names()),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace allm::test

namespace allm::test {
namespace {

// The tokenizer of the tiny fixture models, loaded from its model directory.
TEST(TinyFixtureTokenizer, MatchesHuggingFaceAndReadsTokenizerConfig) {
  auto tok = hf::HfTokenizerFactory().load(data_dir() / "tiny_bpe");
  for (auto& c : read_jsonl(data_dir() / "tiny_bpe.cases.jsonl")) {
    const std::string text = c["text"];
    auto expected = c["ids"].get<std::vector<TokenId>>();
    EXPECT_EQ(tok->encode(text, false), expected) << nlohmann::json(text).dump();
    EXPECT_EQ(tok->encode(text, true), c["ids_with_special_tokens"].get<std::vector<TokenId>>());
    EXPECT_EQ(tok->decode(expected, false), c["decoded"].get<std::string>());
    EXPECT_EQ(tok->decode(expected, true), c["decoded_skip_special"].get<std::string>());
  }
  // tokenizer_config.json: eos_token "<|im_end|>", bos_token null.
  EXPECT_EQ(tok->eos_id(), 2);
  EXPECT_EQ(tok->bos_id(), std::nullopt);
  EXPECT_FALSE(tok->adds_bos());
  EXPECT_EQ(tok->vocab_size(), 512u);
  EXPECT_TRUE(tok->is_special(1));
  EXPECT_FALSE(tok->is_special(100));
  EXPECT_EQ(tok->token_to_id("<|im_start|>"), 1);
  EXPECT_EQ(tok->id_to_token(1), "<|im_start|>");
  EXPECT_EQ(tok->id_to_token(100000), std::nullopt);
}

TEST(RealTokenizerMetadata, BosEosAndAddsBos) {
  auto llama = load_real("llama3_1");
  auto gemma = load_real("gemma3");
  if (!llama || !gemma) {
    if (!npm_available()) GTEST_SKIP() << "npm is not installed";
    FAIL() << "real tokenizers not fetched";
  }
  // From tokenizer_config.json: bos <|begin_of_text|>, eos <|eot_id|>.
  EXPECT_EQ(llama->bos_id(), 128000);
  EXPECT_EQ(llama->eos_id(), 128009);
  EXPECT_TRUE(llama->adds_bos());
  EXPECT_EQ(llama->vocab_size(), 128256u);  // HF getVocabSize(true)
  // bos <bos>, eos <end_of_turn>.
  EXPECT_EQ(gemma->bos_id(), 2);
  EXPECT_EQ(gemma->eos_id(), 106);
  EXPECT_TRUE(gemma->adds_bos());
  EXPECT_EQ(gemma->vocab_size(), 262145u);  // HF getVocabSize(true)
}

}  // namespace
}  // namespace allm::test
