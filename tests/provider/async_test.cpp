// generate_async on the SDK job pool, and cancelling it.
#include <gtest/gtest.h>

#include "allm/error.hpp"
#include "allm/provider/job_pool.hpp"
#include "fake_provider.hpp"

using fake::FakeOptions;
using fake::FakeProvider;

namespace {

allm::GenerateRequest async_prompt() {
  allm::GenerateRequest r;
  r.prompt = "hi";
  return r;
}

}  // namespace

TEST(Async, FutureDeliversTheResponse) {
  auto p = std::make_shared<FakeProvider>();
  auto f = p->generate_async(async_prompt());
  auto r = f.get();
  EXPECT_EQ(r.text, "Hello world, how are you?");
  EXPECT_EQ(r.finish_reason, "stop");
}

TEST(Async, CallsOnOneProviderRunOneAtATime) {
  auto p = std::make_shared<FakeProvider>();
  std::atomic<int> inside{0}, worst{0};
  p->on_step = [&](size_t step) {
    if (step == 0) worst = std::max(worst.load(), ++inside);
    if (step == 7) --inside;
  };
  std::vector<std::future<allm::GenerateResponse>> fs;
  for (int i = 0; i < 4; ++i) fs.push_back(p->generate_async(async_prompt()));
  for (auto& f : fs) EXPECT_EQ(f.get().text, "Hello world, how are you?");
  EXPECT_EQ(worst.load(), 1);
  EXPECT_EQ(p->calls, 4);
}

TEST(Async, CancelMidwayReturnsPartialTextAndCancelled) {
  auto p = std::make_shared<FakeProvider>();
  p->gate.arm(3);
  allm::CancellationToken cancel;
  auto f = p->generate_async(async_prompt(), cancel);
  p->gate.wait_reached();
  cancel.cancel();
  p->gate.open();
  auto r = f.get();
  EXPECT_EQ(r.finish_reason, "cancelled");
  // Tokens 0-2 were done and token 3 was being produced when cancel() came;
  // the loop stops before token 4.
  EXPECT_EQ(r.text, "Hello world, how");
  EXPECT_EQ(r.token_ids.size(), 4u);
}

TEST(Async, CancelWhileQueuedSkipsTheEngine) {
  auto p = std::make_shared<FakeProvider>();
  p->gate.arm(1);
  auto first = p->generate_async(async_prompt());
  p->gate.wait_reached();
  allm::CancellationToken cancel;
  auto second = p->generate_async(async_prompt(), cancel);
  cancel.cancel();
  auto r2 = second.get();  // returns while the first is still held
  EXPECT_EQ(r2.finish_reason, "cancelled");
  EXPECT_TRUE(r2.text.empty());
  p->gate.open();
  EXPECT_EQ(first.get().finish_reason, "stop");
  EXPECT_EQ(p->calls, 1);
}

TEST(Async, ErrorsArriveThroughTheFuture) {
  FakeOptions o;
  o.throw_at_step = 0;
  auto p = std::make_shared<FakeProvider>(o);
  auto f = p->generate_async(async_prompt());
  EXPECT_THROW(f.get(), allm::ModelLoadError);
  auto bad = async_prompt();
  bad.params.top_p = 7;
  EXPECT_THROW(p->generate_async(bad).get(), allm::InvalidArgumentError);
}

TEST(Async, StreamingCallbackRunsOnThePool) {
  auto p = std::make_shared<FakeProvider>();
  std::string text;
  auto r = p->generate_async(async_prompt(), {}, [&](const allm::StreamDelta& d) { text += d.text; }).get();
  EXPECT_EQ(text, r.text);
}

TEST(Async, NeedsSharedOwnership) {
  FakeProvider p;
  EXPECT_THROW(p.generate_async(async_prompt()), allm::InvalidArgumentError);
}

TEST(Async, JobOutlivesTheCallersProviderHandle) {
  auto p = std::make_shared<FakeProvider>();
  p->gate.arm(0);
  auto f = p->generate_async(async_prompt());
  std::weak_ptr<FakeProvider> weak = p;
  auto* raw = p.get();
  p.reset();  // the job still holds it
  raw->gate.wait_reached();
  EXPECT_FALSE(weak.expired());
  raw->gate.open();
  EXPECT_EQ(f.get().finish_reason, "stop");
}

TEST(JobPool, RunsJobsAndDropsUnstartedOnesAtShutdown) {
  std::promise<void> release, started;
  auto* pool = new allm::JobPool(1);
  EXPECT_EQ(pool->size(), 1u);
  auto ran = pool->submit([&] {
    started.set_value();
    release.get_future().wait();
    return 1;
  });
  started.get_future().wait();
  auto dropped = pool->submit([] { return 2; });
  EXPECT_EQ(pool->pending(), 1u);
  // Destroy the pool while job 1 runs; it cannot finish before we release it,
  // so the pool stays alive while we watch its queue being dropped.
  std::thread destroyer([pool] { delete pool; });
  while (pool->pending() != 0) std::this_thread::yield();
  release.set_value();
  destroyer.join();
  EXPECT_EQ(ran.get(), 1);
  try {
    dropped.get();
    FAIL() << "a dropped job must not run";
  } catch (const std::future_error& e) {
    EXPECT_EQ(e.code(), std::future_errc::broken_promise);
  }
}

TEST(JobPool, ExceptionsReachTheFuture) {
  allm::JobPool pool(2);
  auto f = pool.submit([]() -> int { throw allm::IoError("boom"); });
  EXPECT_THROW(f.get(), allm::IoError);
}
