// Cancelling an async and a streamed generation part-way.
#include <gtest/gtest.h>

#include "local_test_util.hpp"

namespace allm::local::test {
namespace {

TEST(LocalCancel, AsyncGenerationStopsWhereItWasCancelled) {
  auto p = make_provider(fixture("qwen3"));
  GenerateRequest r = greedy("keep talking", 200);
  CancellationToken cancel;
  int pieces = 0;
  auto future = p->generate_async(r, cancel, [&](const StreamDelta&) {
    if (++pieces == 3) cancel.cancel();
  });
  GenerateResponse out = future.get();
  EXPECT_EQ(out.finish_reason, "cancelled");
  EXPECT_GE(out.token_ids.size(), 3u);
  EXPECT_LT(out.token_ids.size(), 200u);
  // The provider is usable afterwards.
  EXPECT_EQ(p->generate(greedy("again", 5)).token_ids.size(), 5u);
}

TEST(LocalCancel, PulledStreamCancelsMidway) {
  auto p = make_provider(fixture("qwen3"));
  CancellationToken cancel;
  Stream stream = p->stream(greedy("stream please", 200), cancel, 4);
  size_t pieces = 0;
  while (auto d = stream.next()) {
    if (++pieces == 2) cancel.cancel();
  }
  EXPECT_EQ(stream.response().finish_reason, "cancelled");
  EXPECT_LT(stream.response().token_ids.size(), 200u);
}

TEST(LocalCancel, DestroyingAStreamEarlyIsSafe) {
  auto p = make_provider(fixture("qwen3"));
  {
    Stream stream = p->stream(greedy("drop me", 200));
    ASSERT_TRUE(stream.next().has_value());
  }  // cancels and joins
  EXPECT_EQ(p->generate(greedy("after", 3)).finish_reason, "length");
}

}  // namespace
}  // namespace allm::local::test
