// Fitting a conversation into the context window under each truncation policy.
#include <gtest/gtest.h>

#include "allm/error.hpp"
#include "allm/provider/generation.hpp"
#include "fake_provider.hpp"

namespace {

std::vector<allm::Message> conversation() {
  return {{"system", "be brief", {}},  // 3 words
          {"user", "one two three", {}},  // 4
          {"assistant", "four five", {}},  // 3
          {"user", "six seven", {}}};  // 3
}

}  // namespace

TEST(FitToContext, ErrorPolicyReportsCounts) {
  auto msgs = conversation();
  try {
    allm::fit_to_context(msgs, allm::TruncationPolicy::error, 16, 4, fake::tokenize);
    FAIL();
  } catch (const allm::ContextWindowError& e) {
    std::string m = e.what();
    EXPECT_NE(m.find("prompt is 13 tokens"), std::string::npos) << m;
    EXPECT_NE(m.find("context window is 16 tokens with 4 reserved"), std::string::npos) << m;
  }
  EXPECT_EQ(allm::fit_to_context(msgs, allm::TruncationPolicy::error, 17, 4, fake::tokenize).size(), 13u);
}

TEST(FitToContext, DropOldestKeepsSystemAndLastTurn) {
  auto msgs = conversation();
  auto ids = allm::fit_to_context(msgs, allm::TruncationPolicy::drop_oldest, 10, 2, fake::tokenize);
  ASSERT_EQ(msgs.size(), 2u);  // the dangling assistant reply went with its question
  EXPECT_EQ(msgs[0].role, "system");
  EXPECT_EQ(msgs[1].content, "six seven");
  EXPECT_EQ(ids.size(), 6u);
  auto again = conversation();
  EXPECT_THROW(allm::fit_to_context(again, allm::TruncationPolicy::drop_oldest, 6, 2, fake::tokenize),
               allm::ContextWindowError);
}

TEST(FitToContext, TruncateLeftKeepsPrefixAndNewestTokens) {
  std::vector<allm::Message> msgs = {{"user", "a b c d e f g", {}}};
  auto tokenize = [](const std::vector<allm::Message>&) { return std::vector<allm::TokenId>{1, 2, 3, 4, 5, 6, 7, 8}; };
  auto ids = allm::fit_to_context(msgs, allm::TruncationPolicy::truncate_left, 6, 1, tokenize, 1);
  EXPECT_EQ(ids, (std::vector<allm::TokenId>{1, 5, 6, 7, 8}));
  EXPECT_THROW(allm::fit_to_context(msgs, allm::TruncationPolicy::truncate_left, 6, 6, tokenize), allm::ContextWindowError);
}
