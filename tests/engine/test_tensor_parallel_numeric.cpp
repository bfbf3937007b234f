// The tensor-parallel plan proved on real weights, on the CPU: every fixture
// checkpoint (both config spellings) and GGUF fixture is described as the
// engine binds it (describe_decoder), planned over 2 and 4 ranks, and each
// decoder layer is run twice in double precision from the engine's own
// dequantised weights: whole, and as the ranks would run it — each rank from
// the bytes of its shards (shard_tensor, in the stored format), its query and
// kv heads, its MLP columns or its experts — with the partial results summed
// exactly at the all-reduce points the plan lists, in its order. The two must
// agree within 1e-5; so must the vocabulary-split embedding (all-reduce) and
// LM head (all-gather), and the whole model from token ids to logits split
// over the ranks against the same model on one rank, which is itself held to
// the engine's own forward pass (1e-3). A plan that gave a rank the wrong kv
// heads, columns of o that are not its heads', a bias twice or an expert to
// no one fails.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <map>
#include <random>

#include "allm/engine.hpp"
#include "allm/error.hpp"
#include "allm/tensor_parallel.hpp"
#include "allm/weight_format.hpp"
#include "engine_test_util.hpp"

namespace allm {
namespace {

namespace fs = std::filesystem;

constexpr int64_t kTokens = 5;
constexpr int64_t kFirstPosition = 3;  // rope angles other than zero

// A matrix widened by the engine's own dequantiser.
struct Mat {
  int64_t rows = 0, cols = 0;
  std::vector<double> v;
  bool empty() const { return v.empty(); }
  // y[t][r] = sum_c W[r][c] x[t][c]
  std::vector<double> apply(const std::vector<double>& x, int64_t n) const {
    std::vector<double> y(static_cast<size_t>(n * rows));
    for (int64_t t = 0; t < n; ++t)
      for (int64_t r = 0; r < rows; ++r) {
        double s = 0;
        for (int64_t c = 0; c < cols; ++c) s += v[r * cols + c] * x[t * cols + c];
        y[t * rows + r] = s;
      }
    return y;
  }
};

Mat widen(const Tensor& t) {
  Mat m;
  if (!t.valid()) return m;
  m.rows = t.rows(), m.cols = t.cols();
  std::vector<float> f(static_cast<size_t>(m.rows * m.cols));
  weight_format_of(t).dequant_rows(t, 0, m.rows, f.data());
  m.v.assign(f.begin(), f.end());
  return m;
}

using Vec = std::vector<double>;
Vec widen(const std::vector<float>& v) { return Vec(v.begin(), v.end()); }

uint64_t bytes_of(const Tensor& t) {
  uint64_t b = t.nbytes;
  if (t.dtype == DType::MLX_AFFINE)
    b += (t.biases ? 2u : 1u) * static_cast<uint64_t>(t.rows() * (t.cols() / t.group_size)) *
         (t.scale_dtype == DType::F32 ? 4 : 2);
  return b;
}

// What one rank (or, for the whole layer, the only one) holds of a layer.
struct Part {
  IndexRange q_heads, kv_heads;
  Vec attn_norm, post_attn_norm, ffn_norm, post_ffn_norm, q_norm, k_norm, sinks;
  Mat q, k, v, o, gate, up, down, router;
  Vec q_bias, k_bias, v_bias, o_bias, gate_bias, up_bias, down_bias, router_bias;
  struct Expert {
    Mat gate, up, down;
    Vec gate_bias, up_bias, down_bias;
  };
  std::map<int64_t, Expert> experts;  // by global expert index
};

Part whole_layer(const DecoderSpec& s, const LayerWeights& l) {
  Part p;
  p.q_heads = {0, s.heads}, p.kv_heads = {0, s.kv_heads};
  p.attn_norm = widen(l.attn_norm), p.post_attn_norm = widen(l.post_attn_norm), p.ffn_norm = widen(l.ffn_norm);
  p.post_ffn_norm = widen(l.post_ffn_norm), p.q_norm = widen(l.q_norm), p.k_norm = widen(l.k_norm);
  p.sinks = widen(l.sinks);
  p.q = widen(l.q), p.k = widen(l.k), p.v = widen(l.v), p.o = widen(l.o);
  p.gate = widen(l.gate), p.up = widen(l.up), p.down = widen(l.down), p.router = widen(l.router);
  p.q_bias = widen(l.q_bias), p.k_bias = widen(l.k_bias), p.v_bias = widen(l.v_bias), p.o_bias = widen(l.o_bias);
  p.gate_bias = widen(l.gate_bias), p.up_bias = widen(l.up_bias), p.down_bias = widen(l.down_bias);
  p.router_bias = widen(l.router_bias);
  for (size_t e = 0; e < l.experts.size(); ++e) {
    const ExpertWeights& x = l.experts[e];
    p.experts[static_cast<int64_t>(e)] = {widen(x.gate), widen(x.up), widen(x.down), widen(x.gate_bias),
                                          widen(x.up_bias), widen(x.down_bias)};
  }
  return p;
}

// Rank r's part of layer i, built only from what the plan lists for it: each
// matrix from its shard's bytes, each vector from its shard's range.
class RankLayer {
 public:
  RankLayer(const RankShards& rank, int64_t layer) : rank_(rank), at_("layers." + std::to_string(layer) + ".") {}

  const TensorShard* find(const std::string& role) const {
    for (const TensorShard& t : rank_.tensors)
      if (t.tensor == at_ + role) return &t;
    return nullptr;
  }

  Mat matrix(const Tensor& t, const std::string& role) {
    if (!t.valid()) return {};
    const TensorShard* s = find(role);
    if (!s) return {};
    const Tensor shard = shard_tensor(t, *s, owned_);
    EXPECT_EQ(bytes_of(shard), s->bytes) << at_ << role << " rank " << rank_.rank;
    EXPECT_EQ(shard.shape, s->shape) << at_ << role;
    return widen(shard);
  }

  Vec vector(const std::vector<float>& v, const std::string& role) const {
    const TensorShard* s = find(role);
    if (v.empty() || !s) return {};
    EXPECT_EQ(s->bytes, static_cast<uint64_t>(s->range.size()) * sizeof(float)) << at_ << role;
    return Vec(v.begin() + s->range.begin, v.begin() + s->range.end);
  }

  Part part(const LayerWeights& l) {
    Part p;
    p.q_heads = rank_.q_heads, p.kv_heads = rank_.kv_heads;
    p.attn_norm = vector(l.attn_norm, "attn_norm"), p.post_attn_norm = vector(l.post_attn_norm, "post_attn_norm");
    p.ffn_norm = vector(l.ffn_norm, "ffn_norm"), p.post_ffn_norm = vector(l.post_ffn_norm, "post_ffn_norm");
    p.q_norm = vector(l.q_norm, "q_norm"), p.k_norm = vector(l.k_norm, "k_norm"), p.sinks = vector(l.sinks, "sinks");
    p.q = matrix(l.q, "q"), p.k = matrix(l.k, "k"), p.v = matrix(l.v, "v"), p.o = matrix(l.o, "o");
    p.gate = matrix(l.gate, "gate"), p.up = matrix(l.up, "up"), p.down = matrix(l.down, "down");
    p.router = matrix(l.router, "router");
    p.q_bias = vector(l.q_bias, "q_bias"), p.k_bias = vector(l.k_bias, "k_bias"), p.v_bias = vector(l.v_bias, "v_bias");
    p.o_bias = vector(l.o_bias, "o_bias"), p.gate_bias = vector(l.gate_bias, "gate_bias");
    p.up_bias = vector(l.up_bias, "up_bias"), p.down_bias = vector(l.down_bias, "down_bias");
    p.router_bias = vector(l.router_bias, "router_bias");
    for (size_t e = 0; e < l.experts.size(); ++e) {
      const std::string ep = "experts." + std::to_string(e) + ".";
      if (!find(ep + "down")) continue;  // another rank's expert
      const ExpertWeights& x = l.experts[e];
      p.experts[static_cast<int64_t>(e)] = {matrix(x.gate, ep + "gate"),          matrix(x.up, ep + "up"),
                                            matrix(x.down, ep + "down"),          vector(x.gate_bias, ep + "gate_bias"),
                                            vector(x.up_bias, ep + "up_bias"),    vector(x.down_bias, ep + "down_bias")};
    }
    return p;
  }

 private:
  const RankShards& rank_;
  std::string at_;
  std::vector<std::shared_ptr<const void>> owned_;
};

// One decoder block over kTokens tokens, the ranks' parts run side by side;
// `all_reduce` sums a value per rank into every rank's copy (with one part:
// nothing to sum) and records the length per token, to be checked against
// the plan's collective points.
class Block {
 public:
  Block(const DecoderSpec& s, const LayerSpec& ls, int64_t first_position = kFirstPosition)
      : s_(s), ls_(ls), first_(first_position) {}

  std::vector<int64_t> reductions;  // values per token of each all-reduce, in order

  Vec run(const std::vector<Part>& parts, const Vec& x) {
    const int64_t H = s_.hidden, D = s_.head_dim, n = kTokens, R = static_cast<int64_t>(parts.size());
    // Attention: every rank its heads.
    const Vec h = parts[0].attn_norm.empty() ? x : rms_norm(x, parts[0].attn_norm, H);
    std::vector<Vec> q(R), k(R), v(R);
    for (int64_t r = 0; r < R; ++r) {
      const Part& p = parts[r];
      q[r] = linear(p.q, p.q_bias, h), k[r] = linear(p.k, p.k_bias, h), v[r] = linear(p.v, p.v_bias, h);
    }
    if (!parts[0].q_norm.empty()) {
      if (s_.qk_norm_whole_width) {  // the mean square of the whole projected width: partial sums reduced
        std::vector<Vec> sums(R, Vec(static_cast<size_t>(2 * n)));
        for (int64_t r = 0; r < R; ++r)
          for (int64_t t = 0; t < n; ++t) {
            sums[r][2 * t] = sum_squares(q[r], t, parts[r].q.rows);
            sums[r][2 * t + 1] = sum_squares(k[r], t, parts[r].k.rows);
          }
        all_reduce(sums, 2);
        for (int64_t r = 0; r < R; ++r)
          for (int64_t t = 0; t < n; ++t) {
            scale_row(q[r], t, parts[r].q.rows, parts[r].q_norm, sums[r][2 * t] / double(s_.heads * D));
            scale_row(k[r], t, parts[r].k.rows, parts[r].k_norm, sums[r][2 * t + 1] / double(s_.kv_heads * D));
          }
      } else {
        for (int64_t r = 0; r < R; ++r) q[r] = rms_norm(q[r], parts[r].q_norm, D), k[r] = rms_norm(k[r], parts[r].k_norm, D);
      }
    }
    std::vector<Vec> partial(R);
    for (int64_t r = 0; r < R; ++r) {
      const Part& p = parts[r];
      if (ls_.use_rope) rope(q[r], p.q_heads.size()), rope(k[r], p.kv_heads.size());
      const Vec attn = attention(p, q[r], k[r], v[r]);
      partial[r] = linear(p.o, p.o_bias, attn);
    }
    all_reduce(partial, H);
    Vec x1 = residual(x, parts[0].post_attn_norm, partial[0]);

    // MLP: every rank its columns, or its experts.
    const Vec m = parts[0].ffn_norm.empty() ? x1 : rms_norm(x1, parts[0].ffn_norm, H);
    for (int64_t r = 0; r < R; ++r) partial[r] = ls_.moe ? experts(parts[r], m) : mlp(parts[r].gate, parts[r].up,
                                                                                      parts[r].down, parts[r].gate_bias,
                                                                                      parts[r].up_bias, parts[r].down_bias, m);
    all_reduce(partial, H);
    return residual(x1, parts[0].post_ffn_norm, partial[0]);
  }

 private:
  void all_reduce(std::vector<Vec>& values, int64_t per_token) {
    reductions.push_back(per_token);
    if (values.size() == 1) return;  // the whole layer: nothing to reduce
    Vec sum(values[0].size(), 0.0);
    for (const Vec& v : values)
      for (size_t i = 0; i < sum.size(); ++i) sum[i] += v[i];
    for (Vec& v : values) v = sum;
  }

  Vec linear(const Mat& w, const Vec& bias, const Vec& x) const {
    if (w.empty()) return {};
    Vec y = w.apply(x, kTokens);
    if (!bias.empty())
      for (int64_t t = 0; t < kTokens; ++t)
        for (int64_t r = 0; r < w.rows; ++r) y[t * w.rows + r] += bias[r];
    return y;
  }

  Vec rms_norm(const Vec& x, const Vec& w, int64_t dim) const {
    Vec y(x.size());
    for (size_t row = 0; row < x.size() / static_cast<size_t>(dim); ++row) {
      double ss = 0;
      for (int64_t i = 0; i < dim; ++i) ss += x[row * dim + i] * x[row * dim + i];
      const double inv = 1.0 / std::sqrt(ss / double(dim) + double(s_.norm_eps));
      for (int64_t i = 0; i < dim; ++i)
        y[row * dim + i] = x[row * dim + i] * inv * (s_.norm_plus_one ? 1.0 + w[i] : w[i]);
    }
    return y;
  }

  static double sum_squares(const Vec& x, int64_t t, int64_t width) {
    double s = 0;
    for (int64_t i = 0; i < width; ++i) s += x[t * width + i] * x[t * width + i];
    return s;
  }

  void scale_row(Vec& x, int64_t t, int64_t width, const Vec& w, double mean_square) const {
    const double inv = 1.0 / std::sqrt(mean_square + double(s_.norm_eps));
    for (int64_t i = 0; i < width; ++i) x[t * width + i] *= inv * (s_.norm_plus_one ? 1.0 + w[i] : w[i]);
  }

  // Rotary embedding of every head of every token (positions first_ ...).
  void rope(Vec& x, int64_t heads) const {
    const RopeConfig& rc = s_.ropes[static_cast<size_t>(ls_.rope)];
    const int64_t D = s_.head_dim, half = rc.rotary_dim / 2;
    for (int64_t t = 0; t < kTokens; ++t)
      for (int64_t h = 0; h < heads; ++h) {
        double* v = x.data() + (t * heads + h) * D;
        for (int64_t i = 0; i < half; ++i) {
          const double angle = double(first_ + t) * double(rc.inv_freq[static_cast<size_t>(i)]);
          const double c = std::cos(angle) * rc.attention_scale, sn = std::sin(angle) * rc.attention_scale;
          const int64_t ia = rc.interleaved ? 2 * i : i, ib = rc.interleaved ? 2 * i + 1 : i + half;
          const double a = v[ia], b = v[ib];
          v[ia] = a * c - b * sn, v[ib] = b * c + a * sn;
        }
      }
  }

  // Causal attention of the part's query heads over its kv heads (GQA groups,
  // sliding window, soft-cap, sinks); output [tokens][its heads * head_dim].
  Vec attention(const Part& p, const Vec& q, const Vec& k, const Vec& v) const {
    const int64_t D = s_.head_dim, nq = p.q_heads.size(), nkv = p.kv_heads.size(), group = s_.heads / s_.kv_heads;
    const double scale = s_.attn_scale != 0 ? s_.attn_scale : 1.0 / std::sqrt(double(D));
    Vec out(static_cast<size_t>(kTokens * nq * D), 0.0);
    for (int64_t t = 0; t < kTokens; ++t)
      for (int64_t hl = 0; hl < nq; ++hl) {
        const int64_t head = p.q_heads.begin + hl, g = head / group - p.kv_heads.begin;
        EXPECT_TRUE(g >= 0 && g < nkv) << "query head " << head << " has no kv head on its rank";
        if (g < 0 || g >= nkv) return out;
        std::vector<double> score;
        for (int64_t u = 0; u <= t; ++u) {
          if (ls_.window > 0 && u <= t - ls_.window) {
            score.push_back(-INFINITY);
            continue;
          }
          double d = 0;
          for (int64_t i = 0; i < D; ++i) d += q[(t * nq + hl) * D + i] * k[(u * nkv + g) * D + i];
          d *= scale;
          if (s_.attn_softcap > 0) d = s_.attn_softcap * std::tanh(d / s_.attn_softcap);
          score.push_back(d);
        }
        double mx = *std::max_element(score.begin(), score.end());
        if (!p.sinks.empty()) mx = std::max(mx, p.sinks[static_cast<size_t>(hl)]);
        double sum = p.sinks.empty() ? 0 : std::exp(p.sinks[static_cast<size_t>(hl)] - mx);
        for (double& sc : score) sum += (sc = std::exp(sc - mx));
        for (int64_t u = 0; u <= t; ++u)
          for (int64_t i = 0; i < D; ++i)
            out[(t * nq + hl) * D + i] += score[static_cast<size_t>(u)] / sum * v[(u * nkv + g) * D + i];
      }
    return out;
  }

  Vec mlp(const Mat& gate, const Mat& up, const Mat& down, const Vec& gb, const Vec& ub, const Vec& db,
          const Vec& x) const {
    Vec g = linear(gate, gb, x);
    const Vec u = linear(up, ub, x);
    const double limit = s_.swiglu_limit;
    for (size_t i = 0; i < g.size(); ++i) {
      const double a = g[i], b = u[i];
      switch (s_.activation) {
        case Activation::silu: g[i] = a / (1 + std::exp(-a)) * b; break;
        case Activation::gelu_tanh:
          g[i] = 0.5 * a * (1 + std::tanh(0.7978845608028654 * (a + 0.044715 * a * a * a))) * b;
          break;
        case Activation::swiglu_clamped: {
          const double c = std::min(a, limit), d = std::clamp(b, -limit, limit);
          g[i] = c / (1 + std::exp(-1.702 * c)) * (d + 1);
          break;
        }
      }
    }
    return linear(down, db, g);
  }

  // Softmax router (replicated), top-k, renormalised; the part runs its own experts.
  Vec experts(const Part& p, const Vec& x) const {
    const int64_t E = s_.moe.experts, K = s_.moe.top_k, H = s_.hidden;
    const Vec logits = linear(p.router, p.router_bias, x);
    Vec out(static_cast<size_t>(kTokens * H), 0.0);
    for (int64_t t = 0; t < kTokens; ++t) {
      std::vector<double> prob(logits.begin() + t * E, logits.begin() + (t + 1) * E);
      const double mx = *std::max_element(prob.begin(), prob.end());
      double sum = 0;
      for (double& v : prob) sum += (v = std::exp(v - mx));
      for (double& v : prob) v /= sum;
      std::vector<int64_t> order(static_cast<size_t>(E));
      for (int64_t e = 0; e < E; ++e) order[e] = e;
      std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return prob[a] > prob[b]; });
      double picked = 0;
      for (int64_t j = 0; j < K; ++j) picked += prob[order[j]];
      const Vec token(x.begin() + t * H, x.begin() + (t + 1) * H);
      for (int64_t j = 0; j < K; ++j) {
        auto it = p.experts.find(order[j]);
        if (it == p.experts.end()) continue;  // another rank's
        const Part::Expert& ex = it->second;
        Vec padded(static_cast<size_t>(kTokens * H), 0.0);  // the token alone, as row 0
        std::copy(token.begin(), token.end(), padded.begin());
        const Vec y = mlp(ex.gate, ex.up, ex.down, ex.gate_bias, ex.up_bias, ex.down_bias, padded);
        const double w = s_.moe.renormalize ? prob[order[j]] / picked : prob[order[j]];
        for (int64_t c = 0; c < H; ++c) out[t * H + c] += w * y[c];
      }
    }
    return out;
  }

  Vec residual(const Vec& x, const Vec& post_norm, const Vec& block) const {
    const Vec b = post_norm.empty() ? block : rms_norm(block, post_norm, s_.hidden);
    Vec y = x;
    for (size_t i = 0; i < y.size(); ++i) y[i] += s_.residual_scale * b[i];
    return y;
  }

  const DecoderSpec& s_;
  const LayerSpec& ls_;
  const int64_t first_;
};

double max_difference(const Vec& a, const Vec& b) {
  EXPECT_EQ(a.size(), b.size());
  double worst = 0;
  for (size_t i = 0; i < std::min(a.size(), b.size()); ++i) worst = std::max(worst, std::abs(a[i] - b[i]));
  return worst;
}

// Every layer of `d` over `world` ranks against the whole layer; returns the
// worst difference.
double prove_layers(const DecoderDescription& d, const TensorParallelPlan& plan, std::mt19937& rng) {
  std::normal_distribution<double> normal(0.0, 1.0);
  double worst = 0;
  for (int64_t i = 0; i < d.spec.layers; ++i) {
    SCOPED_TRACE("layer " + std::to_string(i));
    const LayerWeights& l = d.weights.layers[static_cast<size_t>(i)];
    Vec x(static_cast<size_t>(kTokens * d.spec.hidden));
    for (double& v : x) v = normal(rng);
    Block whole(d.spec, d.spec.layer[static_cast<size_t>(i)]);
    const Vec expected = whole.run({whole_layer(d.spec, l)}, x);
    std::vector<RankLayer> ranks;
    std::vector<Part> parts;
    for (const RankShards& r : plan.ranks) ranks.emplace_back(r, i);
    for (RankLayer& r : ranks) parts.push_back(r.part(l));
    Block split(d.spec, d.spec.layer[static_cast<size_t>(i)]);
    const Vec got = split.run(parts, x);
    worst = std::max(worst, max_difference(expected, got));
    // The sums taken are the plan's all-reduce points of this layer, in its order.
    std::vector<int64_t> planned;
    for (const CollectivePoint& c : plan.collectives)
      if (c.layer == i) {
        EXPECT_EQ(c.op, Collective::all_reduce_sum) << c.after;
        planned.push_back(c.values_per_token);
      }
    EXPECT_EQ(split.reductions, planned);
  }
  return worst;
}

// The embedding looked up by vocabulary slice and summed (all-reduce), and the
// LM head's logits computed by slice and concatenated (all-gather).
double prove_vocabulary(const DecoderDescription& d, const TensorParallelPlan& plan, std::mt19937& rng) {
  const int64_t H = d.spec.hidden, V = d.spec.vocab;
  const bool tied = !d.weights.lm_head.valid() || d.weights.lm_head.data == d.weights.embed.data;
  const Mat table = widen(d.weights.embed), head = tied ? table : widen(d.weights.lm_head);
  std::vector<int32_t> ids(kTokens);
  for (int32_t& id : ids) id = static_cast<int32_t>(rng() % static_cast<uint32_t>(V));
  ids.back() = static_cast<int32_t>(V - 1);  // the last rank's last row
  Vec summed(static_cast<size_t>(kTokens * H), 0.0), gathered;
  Vec hidden(static_cast<size_t>(H));
  std::normal_distribution<double> normal(0.0, 1.0);
  for (double& v : hidden) v = normal(rng);
  std::vector<std::shared_ptr<const void>> owned;
  auto shard_of = [](const RankShards& r, const std::string& name) -> const TensorShard* {
    for (const TensorShard& t : r.tensors)
      if (t.tensor == name) return &t;
    return nullptr;
  };
  for (const RankShards& r : plan.ranks) {
    const TensorShard* es = shard_of(r, "embed");
    EXPECT_TRUE(es != nullptr);
    if (!es) return INFINITY;
    EXPECT_EQ(es->range, r.vocab);
    const Mat rows = widen(shard_tensor(d.weights.embed, *es, owned));
    for (int64_t t = 0; t < kTokens; ++t)
      if (ids[t] >= r.vocab.begin && ids[t] < r.vocab.end)  // others' ids contribute zeros
        for (int64_t c = 0; c < H; ++c) summed[t * H + c] += rows.v[(ids[t] - r.vocab.begin) * H + c];
    const TensorShard* hs = tied ? es : shard_of(r, "lm_head");
    EXPECT_TRUE(hs != nullptr);
    if (!hs) return INFINITY;
    const Mat slice = tied ? rows : widen(shard_tensor(d.weights.lm_head, *hs, owned));
    const Vec logits = slice.apply(hidden, 1);
    gathered.insert(gathered.end(), logits.begin(), logits.end());
  }
  Vec lookup(static_cast<size_t>(kTokens * H));
  for (int64_t t = 0; t < kTokens; ++t)
    std::copy(table.v.begin() + ids[t] * H, table.v.begin() + (ids[t] + 1) * H, lookup.begin() + t * H);
  const CollectivePoint& first = plan.collectives.front();
  const CollectivePoint& last = plan.collectives.back();
  EXPECT_EQ(first.op, Collective::all_reduce_sum);
  EXPECT_EQ(first.values_per_token, H);
  EXPECT_EQ(last.op, Collective::all_gather);
  EXPECT_EQ(last.values_per_token, plan.ranks[0].vocab.size());
  return std::max(max_difference(lookup, summed), max_difference(head.apply(hidden, 1), gathered));
}

Vec final_logits(const DecoderSpec& s, const Vec& norm, const Mat& head, const Vec& x) {
  // The final norm (replicated), then the LM head's rows: its vocabulary slice.
  Vec h(x.size());
  for (int64_t t = 0; t < kTokens; ++t) {
    double ss = 0;
    for (int64_t c = 0; c < s.hidden; ++c) ss += x[t * s.hidden + c] * x[t * s.hidden + c];
    const double inv = 1.0 / std::sqrt(ss / double(s.hidden) + double(s.norm_eps));
    for (int64_t c = 0; c < s.hidden; ++c)
      h[t * s.hidden + c] = x[t * s.hidden + c] * inv * (s.norm_plus_one ? 1.0 + norm[c] : norm[c]);
  }
  Vec logits = head.apply(h, kTokens);
  for (double& l : logits) {
    l *= s.logits_scale;
    if (s.final_softcap > 0) l = s.final_softcap * std::tanh(l / s.final_softcap);
  }
  return logits;
}

// The whole model, tokens to logits, as the ranks would run it: embedding rows
// looked up by vocabulary slice and all-reduced, every layer from the ranks'
// shards, each rank's logits of its vocabulary slice gathered. Returns
// [tokens][vocab] in vocabulary order.
Vec split_model_logits(const DecoderDescription& d, const TensorParallelPlan& plan, const std::vector<int32_t>& ids) {
  const DecoderSpec& s = d.spec;
  const int64_t H = s.hidden, R = static_cast<int64_t>(plan.ranks.size());
  std::vector<std::shared_ptr<const void>> owned;
  auto shard_of = [](const RankShards& r, const std::string& name) -> const TensorShard& {
    for (const TensorShard& t : r.tensors)
      if (t.tensor == name) return t;
    throw std::runtime_error("rank " + std::to_string(r.rank) + " has no shard " + name);
  };
  Vec x(static_cast<size_t>(kTokens * H), 0.0);
  for (const RankShards& r : plan.ranks) {
    const Mat rows = widen(shard_tensor(d.weights.embed, shard_of(r, "embed"), owned));
    for (int64_t t = 0; t < kTokens; ++t)
      if (ids[t] >= r.vocab.begin && ids[t] < r.vocab.end)
        for (int64_t c = 0; c < H; ++c) x[t * H + c] += rows.v[(ids[t] - r.vocab.begin) * H + c];
  }
  for (double& v : x) v *= s.embed_scale;
  for (int64_t i = 0; i < s.layers; ++i) {
    std::vector<RankLayer> ranks;
    std::vector<Part> parts;
    for (const RankShards& r : plan.ranks) ranks.emplace_back(r, i);
    for (RankLayer& r : ranks) parts.push_back(r.part(d.weights.layers[static_cast<size_t>(i)]));
    Block block(s, s.layer[static_cast<size_t>(i)], 0);
    x = block.run(parts, x);
  }
  const bool tied = d.weights.lm_head.data == d.weights.embed.data;
  std::vector<Vec> slices(static_cast<size_t>(R));
  for (const RankShards& r : plan.ranks) {
    const TensorShard& fs = shard_of(r, "final_norm");
    EXPECT_EQ(fs.split, ShardSplit::replicated);
    const Mat head = widen(shard_tensor(tied ? d.weights.embed : d.weights.lm_head,
                                        shard_of(r, tied ? "embed" : "lm_head"), owned));
    slices[static_cast<size_t>(r.rank)] = final_logits(s, widen(d.weights.final_norm), head, x);
  }
  Vec logits;  // the all-gather: each token's row is the ranks' slices in order
  for (int64_t t = 0; t < kTokens; ++t)
    for (const RankShards& r : plan.ranks) {
      const Vec& sl = slices[static_cast<size_t>(r.rank)];
      const int64_t n = r.vocab.size();
      logits.insert(logits.end(), sl.begin() + t * n, sl.begin() + (t + 1) * n);
    }
  return logits;
}

struct Fixture {
  std::string name;
  Checkpoint ckpt;
};

std::vector<Fixture> every_fixture() {
  std::vector<Fixture> out;
  std::vector<fs::path> dirs;
  for (const auto& e : fs::directory_iterator(fs::path(ALLM_TEST_DATA_DIR) / "models"))
    if (fs::exists(e.path() / "config.json")) dirs.push_back(e.path());
  std::sort(dirs.begin(), dirs.end());
  for (const fs::path& dir : dirs) {
    const std::string name = dir.filename().string();
    out.push_back({name, test::load_fixture(name)});
    if (fs::exists(dir / "config.v5.json")) out.push_back({name + " (config.v5.json)", test::load_fixture(name, true)});
  }
  std::vector<fs::path> gguf;
  for (const auto& e : fs::directory_iterator(fs::path(ALLM_TEST_DATA_DIR) / "gguf"))
    if (e.path().extension() == ".gguf") gguf.push_back(e.path());
  std::sort(gguf.begin(), gguf.end());
  for (const fs::path& f : gguf) out.push_back({f.filename().string(), load_checkpoint(f)});
  return out;
}

TEST(TensorParallelNumeric, EveryFixtureSplitOverRanksEqualsTheWhole) {
  test::load_arch_plugins();
  std::mt19937 rng(20);
  int proved = 0, refused = 0, float_proved = 0, engine_checked = 0;
  double worst_split = 0, worst_engine = 0;
  std::string refusals;
  for (Fixture& f : every_fixture()) {
    SCOPED_TRACE(f.name);
    const DecoderDescription d = describe_decoder(f.ckpt);
    bool quantised = false;
    for (const LayerWeights& l : d.weights.layers)
      for (const Tensor* t : {&l.q, &l.k, &l.v, &l.o, &l.gate, &l.up, &l.down}) {
        EXPECT_FALSE(is_interleaved(t->dtype)) << t->name << ": described in its stored layout, not repacked";
        quantised |= t->valid() && t->dtype != DType::F32 && t->dtype != DType::F16 && t->dtype != DType::BF16;
      }
    // The whole model on one rank, through the same code, against the engine's
    // own forward pass: the reference the split runs are held to is the
    // engine's model (GGUF block types excepted: the CPU multiplies them by
    // int8-quantised activations, this reference by the exact ones).
    std::vector<int32_t> ids(kTokens);
    for (int32_t& id : ids) id = static_cast<int32_t>(rng() % static_cast<uint32_t>(d.spec.vocab));
    const Vec one_rank = split_model_logits(d, plan_tensor_parallel(d.spec, d.weights, 1), ids);
    bool int8_path = false;
    for (const LayerWeights& l : d.weights.layers)
      for (const Tensor* t : {&l.q, &l.o, &l.down, &l.gate}) int8_path |= t->valid() && dtype_block_elems(t->dtype) > 1;
    if (!int8_path) {
      auto model = test::make_model(f.ckpt);
      auto cache = model->make_cache();
      std::vector<float> engine(static_cast<size_t>(kTokens * d.spec.vocab));
      model->forward(ids, *cache, LogitsMode::all, engine.data());
      const double diff = max_difference(Vec(engine.begin(), engine.end()), one_rank);
      EXPECT_LE(diff, 1e-3) << "the reference is not the engine's model";
      worst_engine = std::max(worst_engine, diff);
      ++engine_checked;
    }
    for (int world : {2, 4}) {
      SCOPED_TRACE("over " + std::to_string(world) + " ranks");
      TensorParallelPlan plan;
      try {
        plan = plan_tensor_parallel(d.spec, d.weights, world);
      } catch (const InvalidArgumentError& e) {
        // Refused only where the fixture's shapes forbid it: a quantisation
        // block or group cut by a row-parallel shard, or OLMo 2's whole-width
        // key norm with its 2 kv heads replicated over 4 ranks.
        const std::string why = e.what();
        const bool block = quantised && why.find("would cut") != std::string::npos;
        const bool whole_width_norm = d.spec.qk_norm_whole_width && world > d.spec.kv_heads &&
                                      why.find("whole projected width") != std::string::npos;
        EXPECT_TRUE(block || whole_width_norm) << why;
        EXPECT_NE(why.find(d.spec.model_type + " model"), std::string::npos) << why;
        ++refused;
        refusals += "  " + f.name + ": " + why + "\n";
        continue;
      }
      const double layers = prove_layers(d, plan, rng), vocab = prove_vocabulary(d, plan, rng);
      EXPECT_LE(layers, 1e-5);
      EXPECT_LE(vocab, 1e-5);
      // Tokens to logits split over the ranks: the one-rank model's logits.
      const double model = max_difference(split_model_logits(d, plan, ids), one_rank);
      EXPECT_LE(model, 1e-5);
      worst_split = std::max({worst_split, layers, vocab, model});
      ++proved;
      float_proved += quantised ? 0 : 1;
    }
  }
  std::printf("tensor-parallel layers and models proved: %d fixture x rank-count cases (worst split - whole %.2g), "
              "%d one-rank references against the engine (worst %.2g); %d refused by their shapes:\n%s",
              proved, worst_split, engine_checked, worst_engine, refused, refusals.c_str());
  EXPECT_GE(proved, 60);
  EXPECT_GE(float_proved, 50);
  EXPECT_GE(engine_checked, 40);
}

}  // namespace
}  // namespace allm
