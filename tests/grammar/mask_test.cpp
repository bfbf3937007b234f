// Masks against an oracle: token t is in the mask after prefix p exactly when
// a fresh matcher can advance byte by byte over p + bytes(t). Covers tokens
// that span several JSON values and rule boundaries, and repeated masks (the
// caches) after different paths into the same state.
#include <gtest/gtest.h>

#include <cmath>

#include "test_support.hpp"

namespace allm::grammar {
namespace {

void check_masks(const std::shared_ptr<const Grammar>& g, const std::string& text) {
  auto vocab = test::small_vocab();
  Matcher m(g, vocab), fresh(g, vocab);
  std::vector<uint64_t> mask;
  for (size_t i = 0; i <= text.size(); ++i) {
    std::string prefix = text.substr(0, i);
    if (i > 0) {
      ASSERT_TRUE(m.advance_bytes(text.substr(i - 1, 1))) << "at " << i;
    }
    m.compute_mask(mask);
    for (size_t t = 0; t < vocab->vocab_size(); ++t) {
      bool in_mask = (mask[t / 64] >> (t % 64)) & 1;
      bool oracle = false;
      if (!vocab->bytes(static_cast<TokenId>(t)).empty()) {
        fresh.reset();
        oracle = fresh.advance_bytes(prefix + vocab->bytes(static_cast<TokenId>(t)));
      }
      ASSERT_EQ(in_mask, oracle) << "prefix '" << prefix << "' token '" << vocab->bytes(static_cast<TokenId>(t)) << "'";
    }
  }
  EXPECT_TRUE(m.is_accepting());
}

TEST(Mask, JsonObjectAgainstOracle) {
  auto g = compile_json_schema_text(R"({"type":"object","properties":{"name":{"type":"string","maxLength":4},
      "tags":{"type":"array","items":{"enum":["abc","x\"y"]}},"n":{"type":"integer","minimum":-1}},
      "required":["name"]})");
  check_masks(g, R"({"name": "ab", "tags": ["abc", "x\"y"], "n": 12})");
}

TEST(Mask, RecursiveAndAnyValueAgainstOracle) {
  auto g = compile_json_schema_text(R"({"$defs":{"t":{"type":"object","properties":{"kids":{"type":"array",
      "items":{"$ref":"#/$defs/t"}},"v":true}}},"$ref":"#/$defs/t"})");
  check_masks(g, R"({"kids": [{"kids": []}, {"v": [1, {"a": null}]}], "v": "\u00e9"})");
}

TEST(Mask, GbnfAgainstOracle) {
  auto g = compile_gbnf("root ::= item (\", \" item)*\nitem ::= \"true\" | \"false\" | [0-9]+ | \"abc\"");
  check_masks(g, "12, true, abc, 00");
}

TEST(Mask, SpecialTokensNeverAllowedAndAdvanceRejects) {
  auto vocab = test::small_vocab();
  Matcher m(compile_regex("a+"), vocab);
  std::vector<uint64_t> mask;
  m.compute_mask(mask);
  TokenId empty_token = -1;
  for (size_t t = 0; t < vocab->vocab_size(); ++t)
    if (vocab->bytes(static_cast<TokenId>(t)).empty()) empty_token = static_cast<TokenId>(t);
  ASSERT_GE(empty_token, 0);
  EXPECT_FALSE((mask[static_cast<size_t>(empty_token) / 64] >> (empty_token % 64)) & 1);
  EXPECT_FALSE(m.advance_token(empty_token));
  EXPECT_FALSE(m.advance_token('b'));
  EXPECT_FALSE(m.is_accepting());
  EXPECT_TRUE(m.advance_token('a'));
  EXPECT_TRUE(m.is_accepting());
  m.reset();
  EXPECT_FALSE(m.is_accepting());
}

// mask_logits against the mask token by token: every refused token -inf, the
// others untouched; EOS kept only once the text is complete; logits past the
// vocabulary of the trie refused. The regexes give words of bytes all allowed,
// none, mixed with few allowed ([a-e]: 5 of word 1's 64) and mixed with few
// refused ([^a-e]), which mask_logits handles apart.
TEST(Mask, MaskLogitsAppliesMaskAndEos) {
  auto vocab = test::small_vocab();  // 276 tokens: words 0-3 bytes, word 4 partial
  for (const char* regex : {"[\\x00-\\x7f]+|[\\xc3][\\xa9]", "[a-e][a-e0-9]*", "[^a-e]+"}) {
    Matcher m(compile_regex(regex), vocab);
    const int64_t n = static_cast<int64_t>(vocab->vocab_size()) + 3;  // 3 ids the trie does not know
    const std::vector<int32_t> eos = {static_cast<int32_t>(n - 1)};
    for (int step = 0; step < 2; ++step) {
      std::vector<float> logits(static_cast<size_t>(n));
      for (int64_t t = 0; t < n; ++t) logits[static_cast<size_t>(t)] = static_cast<float>(t) * 0.5f;
      std::vector<uint64_t> mask;
      m.compute_mask(mask);
      mask_logits(m, logits.data(), n, eos);
      for (int64_t t = 0; t < n; ++t) {
        const auto i = static_cast<size_t>(t);
        const bool allowed =
            t == eos[0] ? m.is_accepting() : i / 64 < mask.size() && ((mask[i / 64] >> (i % 64)) & 1);
        if (allowed)
          EXPECT_EQ(logits[i], static_cast<float>(t) * 0.5f) << regex << ": token " << t << " step " << step;
        else
          EXPECT_TRUE(std::isinf(logits[i]) && logits[i] < 0) << regex << ": token " << t << " step " << step;
      }
      ASSERT_TRUE(m.advance_token(regex[1] == '^' ? 'x' : 'b')) << regex;
    }
  }
}

}  // namespace
}  // namespace allm::grammar
