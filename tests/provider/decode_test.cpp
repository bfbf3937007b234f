// The engine-independent generation pieces: stop strings, the token loop, context fitting.
#include <gtest/gtest.h>

#include "allm/error.hpp"
#include "allm/provider/generation.hpp"
#include "fake_provider.hpp"

using allm::StopMatcher;

TEST(StopMatcher, HoldsBackPossibleStarts) {
  StopMatcher m({"END"});
  EXPECT_EQ(m.push("abc E"), "abc ");  // "E" might start END
  EXPECT_EQ(m.push("N"), "");          // "EN" still might
  EXPECT_EQ(m.push("x"), "ENx");       // not a stop after all
  EXPECT_FALSE(m.matched());
  EXPECT_EQ(m.push("yEND tail"), "y");
  EXPECT_TRUE(m.matched());
  EXPECT_EQ(m.push("more"), "");
  EXPECT_EQ(m.flush(), "");
}

TEST(StopMatcher, EarliestOfSeveralAndFlush) {
  StopMatcher m({"bc", "ab"});
  EXPECT_EQ(m.push("xabc"), "x");
  StopMatcher n({"zz"});
  EXPECT_EQ(n.push("az"), "a");
  EXPECT_EQ(n.flush(), "z");  // the held-back tail comes out at the end
  StopMatcher none({});
  EXPECT_EQ(none.push("anything"), "anything");
}

namespace {

allm::DecodeResult decode(const std::vector<allm::TokenId>& script, allm::DecodeSettings s,
                          std::vector<std::string>* deltas = nullptr, allm::CancellationToken cancel = {}) {
  size_t i = 0;
  allm::DecodeHooks hooks;
  hooks.next_token = [&] { return i < script.size() ? script[i++] : 0; };
  hooks.piece = [](allm::TokenId id) { return fake::vocab().at(id); };
  return allm::run_decode_loop(s, hooks, [&](const allm::StreamDelta& d) {
    if (deltas) deltas->push_back(d.text);
  }, cancel);
}

}  // namespace

TEST(DecodeLoop, StopsAtEosAndExcludesIt) {
  allm::DecodeSettings s;
  s.eos_ids = {0};
  auto r = decode({1, 2, 0, 3}, s);
  EXPECT_EQ(r.text, "Hello world");
  EXPECT_EQ(r.finish_reason, "stop");
  EXPECT_EQ(r.token_ids, (std::vector<allm::TokenId>{1, 2}));
}

TEST(DecodeLoop, IgnoreEosRunsToMaxTokens) {
  allm::DecodeSettings s;
  s.eos_ids = {0};
  s.ignore_eos = true;
  s.max_tokens = 4;
  auto r = decode({1, 0, 2, 0, 3}, s);
  EXPECT_EQ(r.finish_reason, "length");
  EXPECT_EQ(r.token_ids.size(), 4u);
}

TEST(DecodeLoop, StopStringAcrossTokensIsCutAndNeverStreamed) {
  allm::DecodeSettings s;
  s.eos_ids = {0};
  s.stop = {"o w"};  // spans "Hello" + " world"
  std::vector<std::string> deltas;
  auto r = decode({1, 2, 3, 0}, s, &deltas);
  EXPECT_EQ(r.text, "Hell");
  EXPECT_EQ(r.finish_reason, "stop");
  std::string streamed;
  for (auto& d : deltas) streamed += d;
  EXPECT_EQ(streamed, "Hell");
}

TEST(DecodeLoop, CancelledBeforeFirstToken) {
  allm::CancellationToken c;
  c.cancel();
  auto r = decode({1, 2}, {}, nullptr, c);
  EXPECT_EQ(r.finish_reason, "cancelled");
  EXPECT_TRUE(r.text.empty());
}

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
