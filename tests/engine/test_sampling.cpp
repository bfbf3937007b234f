// Sampling semantics: greedy, seeded determinism, top-k / top-p / min-p
// support, penalties, parameter validation, stop strings, the generate loop.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <random>
#include <set>
#include <vector>

#include "allm/error.hpp"
#include "allm/generate.hpp"
#include "allm/sampling.hpp"
#include "engine_test_util.hpp"
#include "sampling/sampling_kernels.hpp"

namespace allm {
namespace {

// Logits with softmax probabilities proportional to `weights`.
std::vector<float> logits_for(const std::vector<double>& weights) {
  std::vector<float> out;
  for (double w : weights) out.push_back(w > 0 ? static_cast<float>(std::log(w)) : -1e9f);
  return out;
}

std::set<int32_t> support(SamplingParams p, const std::vector<double>& weights, int draws = 2000) {
  Sampler s(p, static_cast<int64_t>(weights.size()));
  std::set<int32_t> seen;
  for (int i = 0; i < draws; ++i) {
    auto l = logits_for(weights);
    seen.insert(s.sample(l.data(), {}, {}));
  }
  return seen;
}

TEST(Sampling, TemperatureZeroIsArgmax) {
  SamplingParams p;
  p.temperature = 0;
  Sampler s(p, 5);
  std::vector<float> l = {0.1f, 2.0f, -1.0f, 1.9f, 0.0f};
  EXPECT_EQ(s.sample(l.data(), {}, {}), 1);
}

TEST(Sampling, SameSeedSameTokens) {
  SamplingParams p;
  p.seed = 1234;
  std::vector<double> w(50, 1.0);
  auto run = [&](uint64_t seed) {
    p.seed = seed;
    Sampler s(p, 50);
    std::vector<int32_t> out;
    for (int i = 0; i < 64; ++i) {
      auto l = logits_for(w);
      out.push_back(s.sample(l.data(), {}, {}));
    }
    return out;
  };
  EXPECT_EQ(run(1234), run(1234));
  EXPECT_NE(run(1234), run(999));
}

TEST(Sampling, FollowsTheDistribution) {
  SamplingParams p;
  p.seed = 5;
  Sampler s(p, 3);
  std::map<int32_t, int> counts;
  const int draws = 20000;
  for (int i = 0; i < draws; ++i) {
    auto l = logits_for({0.6, 0.3, 0.1});
    ++counts[s.sample(l.data(), {}, {})];
  }
  EXPECT_NEAR(counts[0] / double(draws), 0.6, 0.02);
  EXPECT_NEAR(counts[1] / double(draws), 0.3, 0.02);
  EXPECT_NEAR(counts[2] / double(draws), 0.1, 0.02);
}

TEST(Sampling, TopKKeepsTheKBest) {
  SamplingParams p;
  p.top_k = 2;
  EXPECT_EQ(support(p, {0.1, 0.4, 0.2, 0.3}), (std::set<int32_t>{1, 3}));
}

TEST(Sampling, TopPKeepsTheSmallestPrefixReachingP) {
  SamplingParams p;
  p.top_p = 0.65;  // 0.4 + 0.3 reaches it; 0.2 and 0.1 are cut
  EXPECT_EQ(support(p, {0.1, 0.4, 0.2, 0.3}), (std::set<int32_t>{1, 3}));
  p.top_p = 0.1;  // the best token always survives
  EXPECT_EQ(support(p, {0.1, 0.4, 0.2, 0.3}), (std::set<int32_t>{1}));
}

TEST(Sampling, MinPDropsTokensBelowAFractionOfTheBest) {
  SamplingParams p;
  p.min_p = 0.5;  // floor 0.2: keeps 0.4, 0.3, 0.2
  EXPECT_EQ(support(p, {0.1, 0.4, 0.2, 0.3}), (std::set<int32_t>{1, 2, 3}));
}

// The top_p / min_p cuts with a vocabulary of 50k (where the sampler sorts
// only a head of the order) against a plain reference: sort everything,
// softmax, cut, draw with the same generator (the one SamplingParams::seed
// seeds: mt19937_64, 53-bit uniforms).
// Every token id, best first: higher logit, then lower id (a full sort).
std::vector<int32_t> full_sort_order(const std::vector<float>& logits) {
  std::vector<int32_t> order(logits.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = static_cast<int32_t>(i);
  std::sort(order.begin(), order.end(),
            [&](int32_t a, int32_t b) { return logits[a] > logits[b] || (logits[a] == logits[b] && a < b); });
  return order;
}

int32_t reference_sample(const std::vector<float>& logits, const SamplingParams& p, std::mt19937_64& rng) {
  const auto n = static_cast<int64_t>(logits.size());
  std::vector<int32_t> order = full_sort_order(logits);
  std::vector<float> probs(static_cast<size_t>(n));
  double sum = 0;
  for (int64_t i = 0; i < n; ++i) {
    probs[i] = static_cast<float>(std::exp((static_cast<double>(logits[order[i]]) - logits[order[0]]) / p.temperature));
    sum += probs[i];
  }
  for (auto& v : probs) v = static_cast<float>(v / sum);
  int64_t keep = n;
  if (p.top_p < 1.0) {
    double cum = 0;
    keep = 0;
    while (keep < n && cum < p.top_p) cum += probs[keep++];
  }
  if (p.min_p > 0) {
    int64_t k = 1;
    while (k < keep && probs[k] >= static_cast<float>(p.min_p) * probs[0]) ++k;
    keep = k;
  }
  double mass = 0;
  for (int64_t i = 0; i < keep; ++i) mass += probs[i];
  double r = static_cast<double>(rng() >> 11) * 0x1.0p-53 * mass;
  for (int64_t i = 0; i < keep; ++i)
    if ((r -= probs[i]) < 0) return order[i];
  return order[keep - 1];
}

TEST(Sampling, TopPAndMinPOverALargeVocabularyMatchAFullSort) {
  const int64_t vocab = 50000;
  std::mt19937_64 gen(11);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  struct Case { double temperature, top_p, min_p, spread; };
  // Peaked (a head of a few hundred) and flat (a head of thousands) logits.
  for (const Case c : {Case{0.7, 0.9, 0, 4}, Case{1.0, 0.95, 0.05, 4}, Case{1.0, 1.0, 0.02, 3}, Case{1.3, 0.99, 0, 1},
                       Case{0.8, 1.0, 0.3, 1}, Case{1.0, 0.5, 0, 0.2}}) {
    SamplingParams p;
    p.temperature = c.temperature;
    p.top_p = c.top_p;
    p.min_p = c.min_p;
    p.seed = 42;
    Sampler s(p, vocab);
    std::mt19937_64 rng(p.seed);
    for (int draw = 0; draw < 12; ++draw) {
      std::vector<float> logits(static_cast<size_t>(vocab));
      for (auto& v : logits) v = c.spread * normal(gen);
      std::vector<float> copy = logits;
      ASSERT_EQ(s.sample(copy.data(), {}, {}), reference_sample(logits, p, rng))
          << "temperature " << c.temperature << " top_p " << c.top_p << " min_p " << c.min_p << " draw " << draw;
    }
  }
}

// The full-sort reference with top_k in front: the k best, normalised over
// themselves (as the sampler does), then reference_sample's cuts and draw.
int32_t reference_sample_top_k(const std::vector<float>& logits, const SamplingParams& p, std::mt19937_64& rng) {
  std::vector<int32_t> order = full_sort_order(logits);
  order.resize(static_cast<size_t>(p.top_k));
  std::vector<float> head;
  for (int32_t id : order) head.push_back(logits[id]);
  // The head is already sorted best first, so reference_sample keeps its order.
  return order[reference_sample(head, p, rng)];
}

// Rows that stress the orderings: exactly flat rows (every token ties), few
// distinct values (the top_p boundary inside a run of ties), -inf entries,
// vocabulary sizes that are no multiple of any vector width, and the paths
// past a few thousand candidates (bucketed) or below (sorted).
TEST(Sampling, FlatTiedAndMaskedRowsMatchAFullSort) {
  std::mt19937_64 gen(3);
  std::uniform_int_distribution<int> level(0, 2);
  std::uniform_real_distribution<float> unit(0.0f, 1.0f);
  struct Case {
    const char* row;
    int64_t vocab;
    double temperature, top_p, min_p;
    int64_t top_k;
  };
  for (const Case c : {Case{"flat", 50001, 1.0, 0.37, 0, 0}, Case{"flat", 50001, 0.9, 1.0, 0.5, 0},
                       Case{"three values", 40003, 1.0, 0.61, 0, 0}, Case{"three values", 40003, 1.0, 0.93, 0.3, 0},
                       Case{"three values", 4099, 0.7, 0.5, 0, 0}, Case{"masked", 30011, 1.0, 0.9, 0, 0},
                       Case{"masked", 30011, 1.0, 1.0, 0.1, 0}, Case{"masked", 2047, 1.0, 0.8, 0, 0},
                       Case{"normal", 9001, 1.0, 0.95, 0, 3001}, Case{"three values", 9001, 1.0, 1.0, 0, 2500},
                       Case{"normal", 100003, 1.0, 0.9, 0.01, 40}, Case{"masked", 100003, 0.8, 0.9, 0, 100}}) {
    SamplingParams p;
    p.temperature = c.temperature;
    p.top_p = c.top_p;
    p.min_p = c.min_p;
    p.top_k = c.top_k;
    p.seed = 9;
    Sampler s(p, c.vocab);
    std::mt19937_64 rng(p.seed);
    std::normal_distribution<float> normal(0.0f, 2.0f);
    for (int draw = 0; draw < 8; ++draw) {
      std::vector<float> logits(static_cast<size_t>(c.vocab));
      const std::string row = c.row;
      for (auto& v : logits) {
        if (row == "flat") v = 1.5f;
        if (row == "three values") v = 0.5f * static_cast<float>(level(gen));
        if (row == "normal") v = normal(gen);
        if (row == "masked") v = unit(gen) < 0.4f ? -INFINITY : normal(gen);
      }
      std::vector<float> copy = logits;
      const int32_t want = c.top_k > 0 ? reference_sample_top_k(logits, p, rng) : reference_sample(logits, p, rng);
      ASSERT_EQ(s.sample(copy.data(), {}, {}), want)
          << c.row << " vocab " << c.vocab << " top_p " << c.top_p << " min_p " << c.min_p << " top_k " << c.top_k
          << " draw " << draw;
    }
  }
}

// NaN and infinite logits: NaN and -inf are never drawn, +inf entries share
// all the weight, an all -inf row still yields a token, on every path.
TEST(Sampling, NonFiniteLogits) {
  const int64_t vocab = 20011;
  for (int path = 0; path < 5; ++path) {
    SamplingParams p;
    p.seed = 1;
    if (path == 1) p.top_k = 40;
    if (path == 2) p.top_p = 0.9;
    if (path == 3) p.min_p = 0.05;
    if (path == 4) p.top_k = 5000;
    Sampler s(p, vocab);
    std::set<int32_t> seen;
    for (int draw = 0; draw < 200; ++draw) {
      std::vector<float> l(static_cast<size_t>(vocab), -INFINITY);
      for (int64_t i = 0; i < vocab; i += 7) l[i] = std::numeric_limits<float>::quiet_NaN();
      l[10] = 2.0f, l[11] = 2.0f, l[5000] = 1.0f;
      seen.insert(s.sample(l.data(), {}, {}));
    }
    for (int32_t id : seen) EXPECT_TRUE(id == 10 || id == 11 || id == 5000) << "path " << path << " drew " << id;
    EXPECT_TRUE(seen.count(10) && seen.count(11)) << "path " << path;

    std::vector<float> l(static_cast<size_t>(vocab), 0.0f);
    l[123] = INFINITY, l[9000] = INFINITY;
    std::set<int32_t> inf_seen;
    for (int draw = 0; draw < 100; ++draw) {
      std::vector<float> copy = l;
      inf_seen.insert(s.sample(copy.data(), {}, {}));
    }
    EXPECT_EQ(inf_seen, (std::set<int32_t>{123, 9000})) << "path " << path;

    std::vector<float> none(static_cast<size_t>(vocab), -INFINITY);
    const int32_t id = s.sample(none.data(), {}, {});
    EXPECT_TRUE(id >= 0 && id < vocab) << "path " << path;
  }
  SamplingParams greedy;
  greedy.temperature = 0;
  Sampler g(greedy, 37);
  std::vector<float> l(37, 1.0f);
  l[3] = std::numeric_limits<float>::quiet_NaN(), l[20] = 4.0f, l[33] = 4.0f;
  EXPECT_EQ(g.sample(l.data(), {}, {}), 20);  // the first of tied best
}

// The whole-row path (no filter) over a large vocabulary: frequencies follow
// the weights, and a token with a third of the mass in the last, partial
// chunk is drawn as often as it should be.
TEST(Sampling, PlainTemperatureFollowsTheDistributionOverALargeVocabulary) {
  const int64_t vocab = 128256 + 5;
  SamplingParams p;
  p.seed = 17;
  p.temperature = 0.5;
  Sampler s(p, vocab);
  std::vector<float> base(static_cast<size_t>(vocab), -30.0f);
  base[7] = 0.0f;                                           // weight 1
  base[60000] = static_cast<float>(0.5 * std::log(0.5));   // weight 0.5 at T = 0.5
  base[vocab - 1] = static_cast<float>(0.5 * std::log(0.75));  // 0.75
  std::map<int32_t, int> counts;
  const int draws = 20000;
  for (int i = 0; i < draws; ++i) {
    std::vector<float> l = base;
    ++counts[s.sample(l.data(), {}, {})];
  }
  EXPECT_NEAR(counts[7] / double(draws), 1.0 / 2.25, 0.015);
  EXPECT_NEAR(counts[60000] / double(draws), 0.5 / 2.25, 0.015);
  EXPECT_NEAR(counts[static_cast<int32_t>(vocab - 1)] / double(draws), 0.75 / 2.25, 0.015);
}

// Every copy of the row kernels this CPU can run, against plain loops in
// double, at lengths around the vector widths (4, 8, 16) and the chunk (256).
TEST(SamplingKernels, MatchPlainLoopsAtEveryLength) {
  std::mt19937_64 gen(5);
  std::normal_distribution<float> normal(0.0f, 4.0f);
  int tested = 0;
  for (const char* isa : {"scalar", "avx2", "avx512"}) {
    const sampling::SamplingKernels* k = sampling::sampling_kernels(isa);
    if (k == nullptr) continue;
    ++tested;
    for (int64_t n : {1, 3, 4, 5, 7, 8, 9, 15, 16, 17, 31, 33, 63, 64, 65, 255, 256, 257, 1000, 4099}) {
      SCOPED_TRACE(std::string(isa) + " n " + std::to_string(n));
      std::vector<float> x(static_cast<size_t>(n));
      for (auto& v : x) v = normal(gen);
      if (n > 4) x[3] = -INFINITY;
      bool nan = true;
      const float mx = k->row_max(x.data(), n, &nan);
      EXPECT_EQ(mx, *std::max_element(x.begin(), x.end()));
      EXPECT_FALSE(nan);
      std::vector<float> with_nan = x;
      with_nan[static_cast<size_t>(n - 1)] = std::numeric_limits<float>::quiet_NaN();
      const float mx_nan = k->row_max(with_nan.data(), n, &nan);
      EXPECT_TRUE(nan);
      EXPECT_EQ(mx_nan, n == 1 ? -INFINITY : *std::max_element(x.begin(), x.end() - 1));

      for (float inv_t : {1.0f, 0.37f, 9.0f}) {
        std::vector<float> w(static_cast<size_t>(n));
        std::vector<double> chunks(static_cast<size_t>((n + sampling::kChunk - 1) / sampling::kChunk));
        sampling::WeightSums sums;
        k->weights(with_nan.data(), n, mx_nan, inv_t, w.data(), chunks.data(), &sums, true);
        double total = 0, level[sampling::kLevels] = {};
        for (int64_t i = 0; i < n; ++i) {
          const double t = (static_cast<double>(with_nan[i]) - mx_nan) * inv_t;
          const double want = std::isnan(t) ? 0 : std::exp(t);
          // ~1 ulp, plus the float rounding of t itself (e^t moves by |t| times it).
          if (want > 1e-37) {
            EXPECT_NEAR(w[i] / want, 1.0, 3e-7 + 1.2e-7 * std::fabs(t)) << "i " << i << " t " << t;
          } else {
            EXPECT_LE(w[i], 1e-37f) << "i " << i;
          }
          if (with_nan[i] == mx_nan) {
            EXPECT_EQ(w[i], 1.0f);
          }
          total += want;
          for (int l = 0; l < sampling::kLevels; ++l)
            if (t >= -sampling::kLevelU[l]) level[l] += want;
        }
        EXPECT_NEAR(sums.total, total, 1e-6 * total);
        double chunk_total = 0;
        for (double c : chunks) chunk_total += c;
        EXPECT_NEAR(chunk_total, total, 1e-6 * total);
        for (int l = 0; l < sampling::kLevels; ++l) EXPECT_NEAR(sums.level_mass[l], level[l], 1e-5 * total);
      }

      std::vector<float> floors = {-INFINITY, INFINITY, mx, x[0], 0.0f, std::nextafter(mx, INFINITY)};
      for (float floor : floors) {
        std::vector<int32_t> got(static_cast<size_t>(n)), want;
        for (int64_t i = 0; i < n; ++i)
          if (x[i] >= floor) want.push_back(static_cast<int32_t>(i));
        got.resize(static_cast<size_t>(k->select_at_least(x.data(), n, floor, got.data())));
        EXPECT_EQ(got, want) << "floor " << floor;
        for (int64_t from : {int64_t{0}, n / 2, n - 1, n}) {
          int64_t next = from;
          while (next < n && !(x[next] > floor)) ++next;
          EXPECT_EQ(k->next_above(x.data(), from, n, floor), next) << "floor " << floor << " from " << from;
        }
      }
    }
  }
  EXPECT_GE(tested, 1);
}

TEST(Sampling, LowTemperatureSharpens) {
  SamplingParams p;
  p.temperature = 0.005;
  EXPECT_EQ(support(p, {0.3, 0.35, 0.35 * 0.9}), (std::set<int32_t>{1}));
}

TEST(Sampling, RepetitionPenaltyDividesPositiveAndMultipliesNegative) {
  SamplingParams p;
  p.temperature = 0;
  p.repetition_penalty = 2.0;
  Sampler s(p, 4);
  std::vector<float> l = {3.0f, 2.0f, -1.0f, 1.0f};
  const std::vector<int32_t> prompt = {0, 2}, generated = {0};
  EXPECT_EQ(s.sample(l.data(), prompt, generated), 1);  // 3 -> 1.5 loses to 2
  EXPECT_FLOAT_EQ(l[0], 1.5f);                          // penalised once despite two occurrences
  EXPECT_FLOAT_EQ(l[2], -2.0f);
  EXPECT_FLOAT_EQ(l[3], 1.0f);
}

TEST(Sampling, PresenceAndFrequencyPenaltiesCountGeneratedTokens) {
  SamplingParams p;
  p.temperature = 0;
  p.presence_penalty = 0.5;
  p.frequency_penalty = 0.25;
  Sampler s(p, 3);
  std::vector<float> l = {2.0f, 1.9f, 0.0f};
  const std::vector<int32_t> prompt = {1}, generated = {0, 0, 2};
  EXPECT_EQ(s.sample(l.data(), prompt, generated), 1);
  EXPECT_FLOAT_EQ(l[0], 2.0f - 0.5f - 0.5f);  // presence once + frequency twice
  EXPECT_FLOAT_EQ(l[1], 1.9f);                // prompt tokens are not penalised
  EXPECT_FLOAT_EQ(l[2], -0.75f);
}

TEST(Sampling, InvalidParametersNameTheParameter) {
  auto message = [](SamplingParams p) -> std::string {
    try {
      p.validate();
    } catch (const InvalidArgumentError& e) {
      return e.what();
    }
    return "";
  };
  SamplingParams p;
  p.temperature = -0.5;
  EXPECT_NE(message(p).find("temperature"), std::string::npos);
  p = {};
  p.temperature = std::numeric_limits<double>::quiet_NaN();
  EXPECT_NE(message(p).find("temperature"), std::string::npos);
  p = {};
  p.top_p = 0;
  EXPECT_NE(message(p).find("top_p"), std::string::npos);
  p = {};
  p.min_p = 1.5;
  EXPECT_NE(message(p).find("min_p"), std::string::npos);
  p = {};
  p.top_k = -1;
  EXPECT_NE(message(p).find("top_k"), std::string::npos);
  p = {};
  p.repetition_penalty = 0;
  EXPECT_NE(message(p).find("repetition_penalty"), std::string::npos);
  p = {};
  p.frequency_penalty = 3;
  EXPECT_NE(message(p).find("frequency_penalty"), std::string::npos);
  EXPECT_EQ(message(SamplingParams{}), "");
  p = {};
  p.temperature = -1;
  EXPECT_THROW(Sampler(p, 10), InvalidArgumentError);
}

TEST(StopStrings, HoldsBackPossiblePrefixesAndCutsAtTheMatch) {
  StopStringMatcher m({"</end>", "STOP"});
  EXPECT_EQ(m.push("hello </"), "hello ");
  EXPECT_EQ(m.push("e"), "");
  EXPECT_EQ(m.push("x and S"), "</ex and ");
  EXPECT_EQ(m.push("TOP tail"), "");
  EXPECT_TRUE(m.stopped());
  EXPECT_EQ(m.matched(), "STOP");
  StopStringMatcher n({"##"});
  EXPECT_EQ(n.push("a#"), "a");
  EXPECT_EQ(n.flush(), "#");
  EXPECT_FALSE(n.stopped());
}

TEST(Generate, StopsAtEosMaxTokensAndStopStrings) {
  Checkpoint ckpt = test::load_fixture("qwen3");
  auto model = test::make_model(ckpt);
  GenerationRequest req;
  req.prompt = {49, 31, 266, 391, 351, 299, 351, 135, 414, 192, 332, 330, 73, 96, 364, 415, 440, 89, 168, 283, 495, 272, 225, 199};
  req.sampling.temperature = 0;
  req.max_tokens = 16;
  req.ignore_eos = true;
  auto r = generate(*model, *model->make_cache(), req);
  const std::vector<int32_t> greedy = {67, 460, 492, 492, 492, 440, 440, 440, 440, 440, 440, 322, 93, 424, 354, 324};
  EXPECT_EQ(r.tokens, greedy);  // transformers' greedy continuation (all margins >= 0.05 here)
  EXPECT_EQ(r.finish_reason, "length");

  req.ignore_eos = false;
  req.eos_ids = {492};
  r = generate(*model, *model->make_cache(), req);
  EXPECT_EQ(r.tokens, (std::vector<int32_t>{67, 460, 492}));
  EXPECT_EQ(r.finish_reason, "stop");

  req.eos_ids = {};
  req.token_text = [](int32_t t) { return "<" + std::to_string(t) + ">"; };
  req.stop = {"<440><440>"};
  r = generate(*model, *model->make_cache(), req);
  EXPECT_EQ(r.finish_reason, "stop");
  EXPECT_EQ(r.text, "<67><460><492><492><492>");
  EXPECT_EQ(r.tokens.size(), 7u);

  req.stop = {};
  int calls = 0;
  req.on_token = [&](int32_t, const std::string&) { return ++calls < 3; };
  r = generate(*model, *model->make_cache(), req);
  EXPECT_EQ(r.finish_reason, "cancelled");
  EXPECT_EQ(r.tokens.size(), 3u);
}

}  // namespace
}  // namespace allm
