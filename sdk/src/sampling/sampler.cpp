#include "allm/sampling.hpp"

#include <algorithm>
#include <cmath>
#include <string>

#include "allm/error.hpp"

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

int32_t Sampler::sample(float* logits, std::span<const int32_t> prompt, std::span<const int32_t> generated) {
  apply_penalties(logits, prompt, generated);
  if (params_.temperature == 0) return static_cast<int32_t>(std::max_element(logits, logits + vocab_) - logits);

  // Candidates, best first where an order is needed.
  int64_t n = vocab_;
  for (int64_t i = 0; i < n; ++i) order_[i] = static_cast<int32_t>(i);
  auto by_logit = [&](int32_t a, int32_t b) { return logits[a] > logits[b] || (logits[a] == logits[b] && a < b); };
  const double inv_t = 1.0 / params_.temperature;
  float mx = -INFINITY;
  auto weight = [&](int32_t id) { return static_cast<float>(std::exp((static_cast<double>(logits[id]) - mx) * inv_t)); };
  // Σ of the weights over the whole vocabulary when only a head of the order
  // is kept for top_p / min_p (0: normalise over the n candidates).
  double whole = 0;
  if (params_.top_k > 0 && params_.top_k < n) {
    std::partial_sort(order_.begin(), order_.begin() + params_.top_k, order_.begin() + n, by_logit);
    n = params_.top_k;
  } else if (params_.top_p < 1.0 || params_.min_p > 0) {
    // top_p and min_p read only the head of the order: sort a head that
    // doubles until it holds the top_p mass and ends below the min_p floor.
    // The order is total (ties by id), so the head is the full sort's head and
    // the cuts below come out the same; a full sort of a 150k vocabulary
    // cost ~8 ms per token per sequence.
    for (int64_t i = 0; i < n; ++i) mx = std::max(mx, logits[i]);
    for (int64_t i = 0; i < n; ++i) whole += weight(static_cast<int32_t>(i));
    auto prob = [&](int32_t id) { return static_cast<float>(weight(id) / whole); };
    for (int64_t head = std::min<int64_t>(n, 256);; head = head * 8 >= n ? n : head * 2) {  // wide: one full sort
      std::partial_sort(order_.begin(), order_.begin() + head, order_.begin() + n, by_logit);
      if (head == n) break;
      double cum = 0;
      for (int64_t i = 0; i < head && cum < params_.top_p; ++i) cum += prob(order_[i]);
      const bool mass = params_.top_p >= 1.0 || cum >= params_.top_p;
      const bool below =
          params_.min_p <= 0 || prob(order_[head - 1]) < static_cast<float>(params_.min_p) * prob(order_[0]);
      if (mass && below) {
        n = head;
        break;
      }
    }
    if (n == vocab_) whole = 0;  // the whole order: normalise as usual
  }
  // Softmax at the temperature.
  mx = -INFINITY;
  for (int64_t i = 0; i < n; ++i) mx = std::max(mx, logits[order_[i]]);
  double sum = 0;
  for (int64_t i = 0; i < n; ++i) {
    probs_[i] = weight(order_[i]);
    sum += probs_[i];
  }
  if (whole > 0) sum = whole;
  for (int64_t i = 0; i < n; ++i) probs_[i] = static_cast<float>(probs_[i] / sum);
  if (params_.top_p < 1.0) {  // smallest prefix whose mass reaches top_p
    double cum = 0;
    int64_t keep = 0;
    while (keep < n && cum < params_.top_p) cum += probs_[keep++];
    n = std::max<int64_t>(1, keep);
  }
  if (params_.min_p > 0) {  // drop tokens below min_p times the best one
    const float floor = static_cast<float>(params_.min_p) * probs_[0];
    int64_t keep = 1;
    while (keep < n && probs_[keep] >= floor) ++keep;
    n = keep;
  }
  double mass = 0;
  for (int64_t i = 0; i < n; ++i) mass += probs_[i];
  double r = uniform() * mass;
  for (int64_t i = 0; i < n; ++i) {
    r -= probs_[i];
    if (r < 0) return order_[i];
  }
  return order_[n - 1];
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
