// Overhead of the generation entry points over a provider that produces
// pieces as fast as it can: the time per piece of generate() with a callback,
// of a pull Stream (producer thread + bounded queue) at several capacities,
// and the round trip of generate_async, each against the bare loop that
// calls the callback directly. A real decode step takes milliseconds, so
// these numbers say how much of that the plumbing adds.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>

#include "allm/provider.hpp"

namespace {

using Clock = std::chrono::steady_clock;

// Emits `pieces` one-token deltas, checking cancellation like an engine.
void produce(int pieces, const allm::StreamCallback& on_delta, const allm::CancellationToken& cancel) {
  allm::StreamDelta d;
  d.text = "tok";
  d.token_ids = {42};
  for (int i = 0; i < pieces && !cancel.cancelled(); ++i) on_delta(d);
}

class FastProvider : public allm::Provider {
 public:
  explicit FastProvider(int pieces) : pieces_(pieces) {}
  allm::Capabilities capabilities() const override { return {}; }

 protected:
  allm::GenerateResponse do_generate(const allm::PreparedRequest&, const allm::StreamCallback& on_delta,
                                     const allm::CancellationToken& cancel) override {
    produce(pieces_, on_delta, cancel);
    allm::GenerateResponse r;
    r.finish_reason = allm::finish_reason::length;
    return r;
  }

 private:
  int pieces_;
};

template <class F>
double best_seconds(F&& run, int repeats = 5) {
  double best = 1e30;
  for (int r = 0; r < repeats; ++r) {
    auto t0 = Clock::now();
    run();
    best = std::min(best, std::chrono::duration<double>(Clock::now() - t0).count());
  }
  return best;
}

}  // namespace

int main(int argc, char** argv) {
  const int pieces = argc > 1 ? std::atoi(argv[1]) : 200000;
  auto provider = std::make_shared<FastProvider>(pieces);
  allm::GenerateRequest request;
  request.prompt = std::string(1, 'x');  // (a literal here trips a GCC 12 -Wrestrict false positive)
  size_t bytes = 0;
  auto count = [&](const allm::StreamDelta& d) { bytes += d.text.size(); };

  const double bare = best_seconds([&] { produce(pieces, count, {}); });
  const double callback = best_seconds([&] { provider->generate(request, count); });
  std::printf("%d pieces per run, best of 5\n", pieces);
  std::printf("%-24s %9.3f us/piece  %6.2fx\n", "bare callback loop", bare / pieces * 1e6, 1.0);
  std::printf("%-24s %9.3f us/piece  %6.2fx\n", "generate(callback)", callback / pieces * 1e6, callback / bare);
  for (size_t capacity : {1, 8, 64, 1024}) {
    const double pull = best_seconds([&] {
      auto s = provider->stream(request, {}, capacity);
      while (auto d = s.next()) bytes += d->text.size();
    });
    char name[64];
    std::snprintf(name, sizeof name, "stream(capacity %zu)", capacity);
    std::printf("%-24s %9.3f us/piece  %6.2fx\n", name, pull / pieces * 1e6, pull / bare);
  }
  // Round trip of one tiny async request (submit, run on the pool, get).
  auto tiny = std::make_shared<FastProvider>(1);
  const int trips = 2000;
  const double async = best_seconds([&] {
    for (int i = 0; i < trips; ++i) tiny->generate_async(request).get();
  });
  const double sync = best_seconds([&] {
    for (int i = 0; i < trips; ++i) tiny->generate(request);
  });
  std::printf("%-24s %9.3f us/request %6.2fx of a blocking generate (%.3f us)\n", "generate_async round trip",
              async / trips * 1e6, async / sync, sync / trips * 1e6);
  return bytes == 0;  // keeps the work observable
}
