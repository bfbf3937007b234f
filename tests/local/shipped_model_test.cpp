// The shipped models/allm-tiny: the tokenizer and greedy continuation agree
// with transformers (tools/train/reference.json), and a default run writes
// English words.
#include <cctype>
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>

#include "local_test_util.hpp"

namespace allm::local::test {
namespace {

nlohmann::json reference() {
  std::ifstream in(std::string(ALLM_SOURCE_DIR) + "/tools/train/reference.json");
  return nlohmann::json::parse(in);
}

TEST(ShippedModel, GreedyIdsMatchTransformersWhileTheMarginIsClear) {
  const auto ref = reference();
  auto p = make_provider(shipped_model(), {{"template", "none"}});
  GenerateRequest r = greedy(ref["prompt"].get<std::string>(), static_cast<int>(ref["greedy_ids"].size()));
  EXPECT_EQ(p->render(r).ids, ref["prompt_ids"].get<std::vector<TokenId>>());
  GenerateResponse out = p->generate(r);
  const auto ids = ref["greedy_ids"].get<std::vector<TokenId>>();
  const auto margins = ref["greedy_margins"].get<std::vector<double>>();
  ASSERT_EQ(out.token_ids.size(), ids.size());
  size_t compared = 0;
  for (; compared < ids.size() && margins[compared] >= 0.05; ++compared)
    EXPECT_EQ(out.token_ids[compared], ids[compared]) << "greedy token " << compared;
  EXPECT_GE(compared, 2u);
}

// Share of whitespace-separated words made of letters (with an apostrophe or
// trailing punctuation allowed).
double wordlike_share(const std::string& text) {
  std::istringstream in(text);
  std::string w;
  int words = 0, good = 0;
  while (in >> w) {
    ++words;
    size_t end = w.size();
    while (end > 0 && std::string(",.;:!?\"')(-").find(w[end - 1]) != std::string::npos) --end;
    size_t begin = 0;
    while (begin < end && (w[begin] == '"' || w[begin] == '\'' || w[begin] == '(')) ++begin;
    bool ok = end > begin;
    for (size_t i = begin; i < end && ok; ++i)
      ok = std::isalpha(static_cast<unsigned char>(w[i])) || w[i] == '\'' || w[i] == '-';
    good += ok;
  }
  return words ? static_cast<double>(good) / words : 0;
}

TEST(ShippedModel, ChatAnswerToOnceUponATimeIsEnglish) {
  auto p = make_provider(shipped_model());
  GenerateRequest r;
  r.prompt = "Once upon a time";
  r.params.max_tokens = 40;
  r.params.seed = 1;
  GenerateResponse out = p->generate(r);
  std::istringstream words(out.text);
  int count = 0;
  for (std::string w; words >> w;) ++count;
  EXPECT_GE(count, 3) << out.text;
  EXPECT_GE(wordlike_share(out.text), 0.8) << out.text;
}

TEST(ShippedModel, RawContinuationIsEnglish) {
  auto p = make_provider(shipped_model(), {{"template", "none"}});
  GenerateRequest r;
  r.prompt = "Once upon a time";
  r.params.max_tokens = 40;
  r.params.seed = 1;
  GenerateResponse out = p->generate(r);
  EXPECT_GE(out.token_ids.size(), 10u) << out.text;
  EXPECT_GE(wordlike_share(out.text), 0.8) << out.text;
}

}  // namespace
}  // namespace allm::local::test
