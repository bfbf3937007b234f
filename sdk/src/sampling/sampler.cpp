#include "allm/sampling.hpp"

#include <algorithm>
#include <cmath>
#include <functional>
#include <string>
#include <vector>

#include "allm/error.hpp"
#include "sampling/sampling_kernels.hpp"

namespace allm {

void SamplingParams::validate() const {
  auto bad = [](const char* name, double v, const char* rule) {
    throw InvalidArgumentError(std::string("sampling parameter ") + name + " = " + std::to_string(v) + ": " + rule);
  };
  if (!std::isfinite(temperature) || temperature < 0) bad("temperature", temperature, "must be a finite number >= 0");
  if (top_k < 0) bad("top_k", static_cast<double>(top_k), "must be >= 0 (0 disables it)");
  if (!std::isfinite(top_p) || top_p <= 0 || top_p > 1) bad("top_p", top_p, "must be in (0, 1]");
  if (!std::isfinite(min_p) || min_p < 0 || min_p > 1) bad("min_p", min_p, "must be in [0, 1]");
  if (!std::isfinite(repetition_penalty) || repetition_penalty <= 0)
    bad("repetition_penalty", repetition_penalty, "must be a finite number > 0");
  if (!std::isfinite(presence_penalty) || std::fabs(presence_penalty) > 2)
    bad("presence_penalty", presence_penalty, "must be in [-2, 2]");
  if (!std::isfinite(frequency_penalty) || std::fabs(frequency_penalty) > 2)
    bad("frequency_penalty", frequency_penalty, "must be in [-2, 2]");
}

Sampler::Sampler(const SamplingParams& params, int64_t vocab_size)
    : params_(params), vocab_(vocab_size), rng_(params.seed) {
  params_.validate();
  if (vocab_size <= 0) throw InvalidArgumentError("sampler: vocabulary size must be positive");
  stamp_.assign(static_cast<size_t>(vocab_size), 0);
  count_.assign(static_cast<size_t>(vocab_size), 0);
  order_.resize(static_cast<size_t>(vocab_size));
  probs_.resize(static_cast<size_t>(vocab_size));
}

double Sampler::uniform() { return static_cast<double>(rng_() >> 11) * 0x1.0p-53; }

void Sampler::apply_penalties(float* logits, std::span<const int32_t> prompt, std::span<const int32_t> generated) {
  auto in_vocab = [&](int32_t t) { return t >= 0 && t < vocab_; };
  if (params_.repetition_penalty != 1.0) {
    const uint32_t mark = ++epoch_;
    const float p = static_cast<float>(params_.repetition_penalty);
    for (auto span : {prompt, generated})
      for (int32_t t : span)
        if (in_vocab(t) && stamp_[t] != mark) {
          stamp_[t] = mark;
          logits[t] = logits[t] > 0 ? logits[t] / p : logits[t] * p;
        }
  }
  if (params_.presence_penalty != 0 || params_.frequency_penalty != 0) {
    for (int32_t t : generated)
      if (in_vocab(t)) count_[t] = 0;
    for (int32_t t : generated)
      if (in_vocab(t)) ++count_[t];
    for (int32_t t : generated)
      if (in_vocab(t) && count_[t] > 0) {
        logits[t] -= static_cast<float>(params_.presence_penalty + params_.frequency_penalty * count_[t]);
        count_[t] = 0;  // apply once per distinct token
      }
  }
}

// How sample() spends its time on a large vocabulary (128,256 entries for
// Llama 3). It used to take one std::exp in double per entry (~0.8 ms) and,
// for top_p / min_p, sorts of ever longer heads of the row (up to a full
// sort: ~40 ms per token for top_p over a flat distribution).
//
// * No filter: the weights of the whole row (vectorised float exp, ~1 ulp) in
//   id order, drawn by walking per-chunk sums, then one chunk.
// * top_k <= kSortMax: the k best by a heap over one pass that skips whole
//   vectors below the worst kept logit; weights in double for those k only.
// * top_p / min_p: the weights of the row (vectorised), with the mass within
//   a few distances of the best logit. The candidates are the entries within
//   the smallest such distance that holds the top_p mass and within the min_p
//   distance. Up to kSortMax candidates: sorted and weighted in double, the
//   old full-sort arithmetic, over the row's Σ. More (flat distributions):
//   bucketed by logit; only the bucket where the top_p mass is reached and
//   the bucket the draw lands in are sorted.
// * top_k > kSortMax: the k best by nth_element, then the buckets.
//
// Where candidates are ordered, they are drawn in the order of a full sort by
// logit (ties by id), as before. Same seed, same distribution; a token can
// differ from the old code's only where float rounding (the row's Σ, the
// float weights) moves a cut or the draw across a boundary.
namespace {

// Up to this many candidates, sorting them all (and exp in double) is cheaper
// than bucketing them.
constexpr int64_t kSortMax = 2048;
// Buckets over the candidates' distances from the best logit: a flat 128k row
// puts ~100 entries in the fullest one, so the two bucket sorts are short.
constexpr int kBuckets = 4096;

// Best first: higher logit, then lower id (a total order once NaN is gone).
struct ByLogit {
  const float* logits;
  bool operator()(int32_t a, int32_t b) const { return logits[a] > logits[b] || (logits[a] == logits[b] && a < b); }
};

// Candidates order[0..m), best first: the old full-sort arithmetic over them.
// Weights float(e^((logit - mx) / T)) summed in double and normalised by
// `whole` (the row's Σ) or, when whole is 0, by their own Σ; then the top_p
// prefix, the min_p floor, and the draw `u` in that order. -1 when the top_p
// mass is not reached within the m and they are not `complete` (entries
// after them could still be in the nucleus).
int32_t draw_sorted(const float* logits, const int32_t* order, int64_t m, float mx, double inv_t, double whole,
                    const SamplingParams& p, double u, bool complete) {
  std::vector<float> probs(static_cast<size_t>(m));
  double sum = 0;
  for (int64_t i = 0; i < m; ++i) {
    probs[i] = static_cast<float>(std::exp((static_cast<double>(logits[order[i]]) - mx) * inv_t));
    sum += probs[i];
  }
  if (whole > 0) sum = whole;
  for (int64_t i = 0; i < m; ++i) probs[i] = static_cast<float>(probs[i] / sum);
  int64_t n = m;
  if (p.top_p < 1.0) {  // smallest prefix whose mass reaches top_p
    double cum = 0;
    int64_t keep = 0;
    while (keep < m && cum < p.top_p) cum += probs[keep++];
    if (cum < p.top_p && !complete) return -1;
    n = std::max<int64_t>(1, keep);
  }
  if (p.min_p > 0) {  // drop tokens below min_p times the best one
    const float floor = static_cast<float>(p.min_p) * probs[0];
    int64_t keep = 1;
    while (keep < n && probs[keep] >= floor) ++keep;
    n = keep;
  }
  double mass = 0;
  for (int64_t i = 0; i < n; ++i) mass += probs[i];
  double r = u * mass;
  for (int64_t i = 0; i < n; ++i)
    if ((r -= probs[i]) < 0) return order[i];
  return order[n - 1];
}

// The same cuts and draw over candidates ids[0..m) in any order, with their
// float weights w[id] (w[best] == 1) and distances u = (mx - logit) / T at
// most `span`: bucketed by distance, so only the bucket holding the top_p
// boundary and the one the draw lands in are sorted. The top_p mass is
// top_p * whole; min_p keeps w >= min_p. `bucket_of` is scratch for m
// entries. -1 as draw_sorted.
int32_t draw_bucketed(const float* logits, const int32_t* ids, int64_t m, const float* w, float mx, float inv_t,
                      float span, double whole, const SamplingParams& p, double u, bool complete, uint32_t* bucket_of) {
  const float min_w = static_cast<float>(p.min_p);
  span = std::min(span, 88.0f);  // weights beyond e^-87 are 0: one last bucket
  const float scale = span > 0 ? (kBuckets - 1) / span : 0.0f;
  constexpr uint32_t kDropped = kBuckets;  // below the min_p floor
  std::vector<double> mass(kBuckets, 0.0);
  for (int64_t j = 0; j < m; ++j) {
    const float wj = w[ids[j]];
    // Monotone in the logit, so a bucket's entries all come before the next's.
    const float b = (mx - logits[ids[j]]) * inv_t * scale;
    const uint32_t bj = wj < min_w ? kDropped : b < kBuckets - 1 ? static_cast<uint32_t>(b) : kBuckets - 1;
    bucket_of[j] = bj;  // past the span, inf, NaN (inf * 0): the last bucket
    if (bj != kDropped) mass[bj] += wj;
  }
  const ByLogit by_logit{logits};
  auto gather = [&](int b, std::vector<int32_t>& out) {
    out.clear();
    for (int64_t j = 0; j < m; ++j)
      if (bucket_of[j] == static_cast<uint32_t>(b)) out.push_back(ids[j]);
    // Gathered in id order: a bucket of equal logits (a flat row) is already sorted.
    if (!std::is_sorted(out.begin(), out.end(), by_logit)) std::sort(out.begin(), out.end(), by_logit);
  };

  std::vector<int32_t> cut;  // the boundary bucket, sorted; its first cut_keep entries are kept
  int cut_b = kBuckets;      // buckets before it are kept whole
  int64_t cut_keep = 0;
  double kept = 0;
  if (p.top_p < 1.0) {
    const double target = p.top_p * whole;
    bool reached = false;
    for (int b = 0; b < kBuckets && !reached; ++b) {
      if (mass[b] == 0) continue;
      if (kept + mass[b] < target) {
        kept += mass[b];
        continue;
      }
      gather(b, cut);
      cut_keep = 0;
      double cum = kept;
      while (cut_keep < static_cast<int64_t>(cut.size()) && cum < target) cum += w[cut[cut_keep++]];
      if (cum >= target) {
        reached = true;
        cut_b = b;
        kept = cum;
      } else {
        kept += mass[b];  // short by rounding: the whole bucket, and on
      }
    }
    if (!reached && !complete) return -1;
  } else {
    for (int b = 0; b < kBuckets; ++b) kept += mass[b];
  }

  double r = u * kept;
  std::vector<int32_t> ids_b;
  int last_b = -1;  // the last bucket with weight before the cut
  for (int b = 0; b < std::min(cut_b, kBuckets); ++b) {
    if (mass[b] == 0) continue;
    last_b = b;
    if (r >= mass[b]) {
      r -= mass[b];
      continue;
    }
    gather(b, ids_b);
    for (int32_t id : ids_b)
      if ((r -= w[id]) < 0) return id;
    // Short by rounding: on to the next bucket.
  }
  if (cut_b < kBuckets)
    for (int64_t i = 0; i < cut_keep; ++i)
      if ((r -= w[cut[i]]) < 0) return cut[i];
  // Past the end by rounding: the last kept entry with weight.
  if (cut_b < kBuckets)
    for (int64_t i = cut_keep - 1; i >= 0; --i)
      if (w[cut[i]] > 0) return cut[i];
  if (last_b < 0) return ids[0];
  gather(last_b, ids_b);
  for (auto it = ids_b.rbegin(); it != ids_b.rend(); ++it)
    if (w[*it] > 0) return *it;
  return ids_b.front();
}

}  // namespace

int32_t Sampler::sample(float* logits, std::span<const int32_t> prompt, std::span<const int32_t> generated) {
  apply_penalties(logits, prompt, generated);
  const sampling::SamplingKernels& kern = sampling::sampling_kernels();
  bool nan = false;
  float mx = kern.row_max(logits, vocab_, &nan);
  // A NaN logit is no candidate (it would also break the order's comparisons).
  if (nan)
    for (int64_t i = 0; i < vocab_; ++i)
      if (std::isnan(logits[i])) logits[i] = -INFINITY;
  if (params_.temperature == 0) {  // the first best, as std::max_element
    const int64_t at = kern.next_above(logits, 0, vocab_, std::nextafter(mx, -INFINITY));
    return static_cast<int32_t>(at < vocab_ ? at : 0);  // all -inf: the first
  }
  if (mx == INFINITY) {  // only the +inf entries have weight, equal weight
    for (int64_t i = 0; i < vocab_; ++i) logits[i] = logits[i] == INFINITY ? 0.0f : -INFINITY;
    mx = 0;
  }
  // The one random number of this call (drawn here, used by the draw below).
  const double u = uniform();
  if (mx == -INFINITY)  // nothing has weight: any token, uniformly
    return static_cast<int32_t>(std::min<int64_t>(vocab_ - 1, static_cast<int64_t>(u * static_cast<double>(vocab_))));

  const double inv_t = 1.0 / params_.temperature;
  // Float's range: a temperature below ~1e-30 orders like one of 1e-30.
  const float inv_tf = static_cast<float>(std::min(inv_t, 1e30));
  const bool top_k = params_.top_k > 0 && params_.top_k < vocab_;
  const bool top_p = params_.top_p < 1.0;
  const bool min_p = params_.min_p > 0;
  const ByLogit by_logit{logits};
  const int64_t chunks = (vocab_ + sampling::kChunk - 1) / sampling::kChunk;
  std::vector<double> chunk_sums(static_cast<size_t>(chunks));
  sampling::WeightSums sums;

  if (!top_k && !top_p && !min_p) {  // the whole row, in id order
    kern.weights(logits, vocab_, mx, inv_tf, probs_.data(), chunk_sums.data(), &sums, false);
    double r = u * sums.total;
    for (int64_t c = 0; c < chunks; ++c) {
      if (r >= chunk_sums[c] && c + 1 < chunks) {
        r -= chunk_sums[c];
        continue;
      }
      const int64_t end = std::min(vocab_, (c + 1) * sampling::kChunk);
      for (int64_t i = c * sampling::kChunk; i < end; ++i)
        if ((r -= probs_[i]) < 0) return static_cast<int32_t>(i);
      // Short by rounding: on to the next chunk.
    }
    for (int64_t i = vocab_ - 1; i > 0; --i)  // past the end by rounding: the last token with weight
      if (probs_[i] > 0) return static_cast<int32_t>(i);
    return 0;
  }

  if (vocab_ <= kSortMax) {  // small: sort it all
    for (int64_t i = 0; i < vocab_; ++i) order_[i] = static_cast<int32_t>(i);
    const int64_t n = top_k ? params_.top_k : vocab_;
    std::partial_sort(order_.begin(), order_.begin() + n, order_.end(), by_logit);
    return draw_sorted(logits, order_.data(), n, mx, inv_t, 0, params_, u, true);
  }

  if (top_k && params_.top_k <= kSortMax) {
    const int64_t k = params_.top_k;
    for (int64_t i = 0; i < k; ++i) order_[i] = static_cast<int32_t>(i);
    // A heap of the k best so far, its top the worst of them; a later entry
    // gets in only with a logit above that one's (on a tie its higher id loses).
    std::make_heap(order_.begin(), order_.begin() + k, by_logit);
    float worst = logits[order_[0]];
    for (int64_t i = k; (i = kern.next_above(logits, i, vocab_, worst)) < vocab_; ++i) {
      std::pop_heap(order_.begin(), order_.begin() + k, by_logit);
      order_[k - 1] = static_cast<int32_t>(i);
      std::push_heap(order_.begin(), order_.begin() + k, by_logit);
      worst = logits[order_[0]];
    }
    std::sort_heap(order_.begin(), order_.begin() + k, by_logit);
    return draw_sorted(logits, order_.data(), k, mx, inv_t, 0, params_, u, true);
  }

  if (top_k) {  // many: the k-th best logit, then the k best in id order
    const int64_t k = params_.top_k;
    std::copy(logits, logits + vocab_, probs_.begin());
    std::nth_element(probs_.begin(), probs_.begin() + (k - 1), probs_.end(), std::greater<float>());
    const float kth = probs_[k - 1];
    int64_t ties = k - std::count_if(logits, logits + vocab_, [&](float l) { return l > kth; });
    int64_t m = 0;
    for (int64_t i = 0; i < vocab_; ++i)
      if (logits[i] > kth || (logits[i] == kth && ties-- > 0)) order_[m++] = static_cast<int32_t>(i);
    kern.weights(logits, vocab_, mx, inv_tf, probs_.data(), chunk_sums.data(), &sums, false);
    double whole = 0;
    for (int64_t j = 0; j < m; ++j) whole += probs_[order_[j]];
    const float span = (mx - *std::min_element(logits, logits + vocab_)) * inv_tf;
    return draw_bucketed(logits, order_.data(), m, probs_.data(), mx, inv_tf, span, whole, params_, u, true,
                         count_.data());
  }

  kern.weights(logits, vocab_, mx, inv_tf, probs_.data(), chunk_sums.data(), &sums, top_p);
  // min_p keeps weights >= min_p (the best one's is 1): u <= -ln(min_p). The
  // margin keeps every entry the exact arithmetic could keep.
  const double minp_u = min_p ? -std::log(params_.min_p) * 1.001 + 1e-3 : INFINITY;
  int level = 0;  // the first distance whose mass (float sums: a little slack) holds the nucleus
  if (top_p)
    while (level < sampling::kLevels && sums.level_mass[level] < params_.top_p * sums.total * (1 + 1e-4)) ++level;
  for (;; ++level) {
    double bound = minp_u;
    bool complete = true;  // every entry past the bound is outside the kept prefix
    if (top_p && level < sampling::kLevels && sampling::kLevelU[level] < bound) {
      bound = sampling::kLevelU[level];
      complete = false;
    }
    const float floor = std::isinf(bound) ? -INFINITY : static_cast<float>(mx - bound * params_.temperature);
    const int64_t m = kern.select_at_least(logits, vocab_, floor, order_.data());
    int32_t id;
    if (m <= kSortMax) {
      std::sort(order_.begin(), order_.begin() + m, by_logit);
      id = draw_sorted(logits, order_.data(), m, mx, inv_t, sums.total, params_, u, complete);
    } else {
      // The candidates' farthest distance: the bound, or the row's farthest.
      const float span =
          std::isinf(bound) ? (mx - *std::min_element(logits, logits + vocab_)) * inv_tf : static_cast<float>(bound);
      id = draw_bucketed(logits, order_.data(), m, probs_.data(), mx, inv_tf, span, sums.total, params_, u, complete,
                         count_.data());
    }
    if (id >= 0) return id;  // else: widen to the next distance
  }
}

std::string StopStringMatcher::push(std::string_view text) {
  if (stopped_) return {};
  pending_.append(text);
  for (const auto& s : stops_) {
    if (s.empty()) continue;
    const size_t at = pending_.find(s);
    if (at != std::string::npos) {
      stopped_ = true;
      matched_ = s;
      std::string out = pending_.substr(0, at);
      pending_.clear();
      return out;
    }
  }
  // Hold back the longest suffix that is a proper prefix of some stop string.
  size_t hold = 0;
  for (const auto& s : stops_)
    for (size_t len = std::min(s.size() - (s.empty() ? 0 : 1), pending_.size()); len > hold; --len)
      if (pending_.compare(pending_.size() - len, len, s, 0, len) == 0) {
        hold = len;
        break;
      }
  std::string out = pending_.substr(0, pending_.size() - hold);
  pending_.erase(0, pending_.size() - hold);
  return out;
}

std::string StopStringMatcher::flush() {
  std::string out = std::move(pending_);
  pending_.clear();
  return out;
}

}  // namespace allm
