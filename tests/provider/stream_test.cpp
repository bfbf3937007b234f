// The pull form: Stream over a producer thread and a bounded queue.
#include <gtest/gtest.h>

#include <atomic>

#include "allm/error.hpp"
#include "fake_provider.hpp"

using fake::FakeOptions;
using fake::FakeProvider;

namespace {

allm::GenerateRequest prompt() {
  allm::GenerateRequest r;
  r.prompt = "hi";
  r.stream = true;
  return r;
}

}  // namespace

TEST(Stream, YieldsDeltasThenResponse) {
  auto p = std::make_shared<FakeProvider>();
  auto s = p->stream(prompt());
  std::string text;
  int n = 0;
  while (auto d = s.next()) {
    text += d->text;
    ++n;
  }
  EXPECT_EQ(n, 7);
  EXPECT_EQ(text, "Hello world, how are you?");
  EXPECT_EQ(s.response().text, text);
  EXPECT_EQ(s.response().finish_reason, "stop");
  EXPECT_FALSE(s.next().has_value());  // stays at the end
}

TEST(Stream, FirstDeltaArrivesWhileTheEngineIsStillRunning) {
  auto p = std::make_shared<FakeProvider>();
  p->gate.arm(1);  // hold before the second token
  auto s = p->stream(prompt());
  auto first = s.next();
  ASSERT_TRUE(first.has_value());
  EXPECT_EQ(first->text, "Hello");
  p->gate.wait_reached();
  EXPECT_THROW(s.response(), allm::InvalidArgumentError);  // not finished yet
  p->gate.open();
  while (s.next()) {
  }
  EXPECT_EQ(s.response().text, "Hello world, how are you?");
}

TEST(Stream, BoundedQueueMakesTheEngineWait) {
  FakeOptions o;
  o.script = std::vector<allm::TokenId>(40, 1);
  o.script.push_back(0);
  auto p = std::make_shared<FakeProvider>(o);
  std::atomic<int> produced{0};
  p->on_step = [&](size_t) { ++produced; };
  const size_t capacity = 2;
  auto s = p->stream(prompt(), {}, capacity);
  int consumed = 0;
  int worst_lead = 0;
  while (s.next()) {
    ++consumed;
    std::this_thread::sleep_for(std::chrono::microseconds(200));
    worst_lead = std::max(worst_lead, produced.load() - consumed);
  }
  EXPECT_EQ(consumed, 40);
  // Queue full + one token blocked in push + one being produced.
  EXPECT_LE(worst_lead, static_cast<int>(capacity) + 2);
}

TEST(Stream, CancelMidwayEndsWithCancelled) {
  auto p = std::make_shared<FakeProvider>();
  p->gate.arm(2);
  auto s = p->stream(prompt());
  EXPECT_EQ(s.next()->text, "Hello");
  EXPECT_EQ(s.next()->text, " world");
  p->gate.wait_reached();
  s.cancel();
  p->gate.open();
  // The token being produced when cancel() came still arrives; then the end.
  std::string rest;
  while (auto d = s.next()) rest += d->text;
  EXPECT_EQ(rest, ",");
  EXPECT_EQ(s.response().finish_reason, "cancelled");
}

TEST(Stream, DroppingAStreamEarlyCancelsAndJoins) {
  FakeOptions o;
  o.script = std::vector<allm::TokenId>(1000, 1);
  auto p = std::make_shared<FakeProvider>(o);
  {
    auto s = p->stream(prompt(), {}, 1);
    EXPECT_TRUE(s.next().has_value());
  }  // destructor: cancel, unblock the producer, join
  EXPECT_EQ(p->calls, 1);
  // The provider is free again.
  EXPECT_EQ(p->generate(prompt()).token_ids.size(), 512u);  // config default max_tokens
}

TEST(Stream, ErrorsComeAfterTheDeltasBeforeThem) {
  FakeOptions o;
  o.throw_at_step = 2;
  auto p = std::make_shared<FakeProvider>(o);
  auto s = p->stream(prompt());
  EXPECT_EQ(s.next()->text, "Hello");
  EXPECT_EQ(s.next()->text, " world");
  EXPECT_THROW(s.next(), allm::ModelLoadError);
}

TEST(Stream, MoveKeepsOneOwner) {
  auto p = std::make_shared<FakeProvider>();
  auto a = p->stream(prompt());
  allm::Stream b = std::move(a);
  std::string text;
  while (auto d = b.next()) text += d->text;
  EXPECT_EQ(text, "Hello world, how are you?");
  EXPECT_THROW(a.next(), allm::InvalidArgumentError);
}

TEST(Stream, NeedsSharedOwnership) {
  FakeProvider p;
  EXPECT_THROW(p.stream(prompt()), allm::InvalidArgumentError);
}
