// The generic decoder-only transformer (see decoder.hpp). All scratch space is
// sized once per batch size, so a decode step performs no heap allocation.
#include "allm/decoder.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <string>

#include "allm/error.hpp"
#include "allm/weight_format.hpp"

namespace allm {
namespace {

uint64_t stored_bytes(const Tensor& t) {
  if (!t.valid()) return 0;
  uint64_t b = t.nbytes;
  if (t.dtype == DType::MLX_AFFINE)
    b += 2 * static_cast<uint64_t>(t.rows() * (t.cols() / t.group_size)) * (t.scale_dtype == DType::F32 ? 4 : 2);
  return b;
}

class DecoderModel final : public Model {
 public:
  DecoderModel(DecoderSpec spec, DecoderWeights w, std::shared_ptr<Backend> backend)
      : s_(std::move(spec)), w_(std::move(w)), be_(std::move(backend)), tables_(s_.ropes.size()) {
    if (s_.attn_scale == 0) s_.attn_scale = 1.0f / std::sqrt(static_cast<float>(s_.head_dim));
    split_sectioned_ropes();
    info_.model_type = s_.model_type;
    info_.vocab_size = s_.vocab;
    info_.context_length = s_.context_length;
    info_.hidden_size = s_.hidden;
    info_.layers = s_.layers;
    info_.weight_bytes = w_.store ? w_.store->total_bytes() : 0;
    uint64_t per_token = stored_bytes(w_.lm_head);
    for (auto& l : w_.layers) {
      for (const Tensor* t : {&l.q, &l.k, &l.v, &l.o, &l.gate, &l.up, &l.down, &l.router}) per_token += stored_bytes(*t);
      if (!l.experts.empty()) {
        uint64_t experts = 0;
        for (auto& e : l.experts) experts += stored_bytes(e.gate) + stored_bytes(e.up) + stored_bytes(e.down);
        per_token += experts / l.experts.size() * static_cast<uint64_t>(s_.moe.top_k);
      }
    }
    info_.bytes_per_token = per_token;
    info_.kv_bytes_per_position = KVPool(kv_shape()).bytes_per_position();
  }

  const ModelInfo& info() const override { return info_; }

  std::unique_ptr<KVCache> make_cache(int64_t capacity) const override {
    return std::make_unique<KVCache>(s_.layers, s_.kv_heads, s_.head_dim, s_.context_length,
                                     capacity > 0 ? capacity : std::min<int64_t>(s_.context_length, 512));
  }

  std::shared_ptr<KVPool> make_pool(uint64_t budget_bytes, KVType type) const override {
    return std::make_shared<KVPool>(kv_shape(), budget_bytes, type);
  }

  using Model::forward;

  void forward(std::span<const BatchEntry> batch, float* logits) override {
    const int64_t rows = run(batch);
    if (rows == 0) return;
    be_->linear(w_.lm_head, h_.data(), rows, logits);
    if (s_.logits_scale != 1) be_->scale(logits, rows * s_.vocab, s_.logits_scale);
    if (s_.final_softcap > 0) be_->softcap(logits, rows * s_.vocab, s_.final_softcap);
  }

  void forward_hidden(std::span<const BatchEntry> batch, float* hidden) override {
    const int64_t rows = run(batch);
    if (rows > 0) std::copy_n(h_.data(), rows * s_.hidden, hidden);
  }

 private:
  // The blocks over every entry's tokens; the rows whose output was asked for
  // end up final-normed in h_, in entry order. Returns their count.
  int64_t run(std::span<const BatchEntry> batch) {
    const int64_t n = plan(batch);
    if (n == 0) return 0;
    size_scratch(n);
    for (size_t r = 0; r < s_.ropes.size(); ++r) {
      if (section_ropes_[r].empty()) compute_rope_table(s_.ropes[r], positions_.data(), n, tables_[r]);
      for (size_t c = 0; c < section_ropes_[r].size(); ++c)
        compute_rope_table(section_ropes_[r][c], positions_.data() + c * n, n, section_tables_[r][c]);
    }

    be_->embedding(w_.embed, ids_.data(), n, x_.data(), s_.embed_scale);
    place_embeddings();
    for (int64_t i = 0; i < s_.layers; ++i) layer(i, n);
    for (auto& seq : seqs_) seq.cache->advance(seq.n);

    // Rows whose output was asked for, gathered in entry order.
    int64_t rows = 0;
    for (const auto& seq : seqs_) {
      const int64_t first = seq.mode == LogitsMode::all ? 0 : seq.mode == LogitsMode::last ? seq.n - 1 : seq.n;
      for (int64_t t = first; t < seq.n; ++t, ++rows)
        std::copy_n(x_.data() + (seq.offset + t) * s_.hidden, s_.hidden, out_.data() + rows * s_.hidden);
    }
    if (rows > 0)
      be_->rms_norm(out_.data(), w_.final_norm.data(), rows, s_.hidden, s_.norm_eps, s_.norm_plus_one, h_.data());
    return rows;
  }

  KVShape kv_shape() const { return KVShape{s_.layers, s_.kv_heads, s_.head_dim, s_.context_length}; }

  // A rope with position sections (M-RoPE) runs as one rotation per position
  // component, each with the other components' frequencies set to zero: those
  // pairs turn by exactly 0 (cos 1, sin 0), so the rotations compose to
  // M-RoPE with the backend's ordinary rope op. The attention factor rides on
  // the first rotation only, so that every pair gets it once.
  void split_sectioned_ropes() {
    section_ropes_.resize(s_.ropes.size());
    section_tables_.resize(s_.ropes.size());
    for (size_t r = 0; r < s_.ropes.size(); ++r) {
      const RopeConfig& rope = s_.ropes[r];
      if (rope.sections.empty()) continue;
      components_ = std::max<int64_t>(components_, static_cast<int64_t>(rope.sections.size()));
      size_t first = 0;
      for (size_t c = 0; c < rope.sections.size(); ++c) {
        RopeConfig part = rope;
        part.sections.clear();
        const size_t end = first + static_cast<size_t>(rope.sections[c]);
        for (size_t i = 0; i < part.inv_freq.size(); ++i)
          if (i < first || i >= end) part.inv_freq[i] = 0;
        if (c > 0) part.attention_scale = 1;
        section_ropes_[r].push_back(std::move(part));
        first = end;
      }
      section_tables_[r].resize(rope.sections.size());
    }
  }

  // One sequence of the current call: its tokens are rows [offset, offset + n).
  struct Seq {
    KVCache* cache;
    int64_t offset, n, pos0;
    LogitsMode mode;
    std::vector<uint8_t*> blocks;  // the cache's blocks, in position order
    std::span<const SoftTokens> soft_tokens;
  };

  // Input embeddings over the token embeddings; the positions each token of a
  // bidirectional group sees (seen_, [n][2]) when any entry has one.
  void place_embeddings() {
    bool any_bidirectional = false;
    for (const auto& seq : seqs_)
      for (const auto& e : seq.soft_tokens) {
        std::copy_n(e.rows, e.count * s_.hidden, x_.data() + (seq.offset + e.index) * s_.hidden);
        any_bidirectional |= e.bidirectional;
      }
    seen_.clear();
    if (!any_bidirectional) return;
    for (const auto& seq : seqs_)  // cache positions: each token sees itself (and, causally, what is before)
      for (int64_t t = 0; t < seq.n; ++t) {
        seen_.push_back(seq.pos0 + t);
        seen_.push_back(seq.pos0 + t + 1);
      }
    for (const auto& seq : seqs_)
      for (const auto& e : seq.soft_tokens) {
        if (!e.bidirectional) continue;
        for (int64_t t = seq.offset + e.index; t < seq.offset + e.index + e.count; ++t) {
          seen_[2 * t] = seq.pos0 + e.index;
          seen_[2 * t + 1] = seq.pos0 + e.index + e.count;
        }
      }
  }

  // Rotary positions of one sequence's new tokens into positions_
  // ([components_][n]). One component: the cache position. M-RoPE: text
  // continues from the cache's shift with all components equal; a soft-token
  // run laid out on a grid takes (s, s + row, s + column) from s, the
  // position its first token would have as text, and moves the text after it
  // to s + max(rows, columns), a shift the cache keeps for later tokens.
  void rope_positions(const Seq& seq, int64_t n) {
    auto put = [&](int64_t t, int64_t c, int64_t v) { positions_[c * n + seq.offset + t] = v; };
    if (components_ == 1) {
      for (int64_t t = 0; t < seq.n; ++t) put(t, 0, seq.pos0 + t);
      return;
    }
    int64_t shift = seq.cache->rope_shift(seq.pos0);
    size_t k = 0;
    for (int64_t t = 0; t < seq.n;) {
      while (k < seq.soft_tokens.size() && seq.soft_tokens[k].index < t) ++k;
      const SoftTokens* run = k < seq.soft_tokens.size() && seq.soft_tokens[k].index == t &&
                                      seq.soft_tokens[k].grid_w > 0
                                  ? &seq.soft_tokens[k]
                                  : nullptr;
      if (!run) {
        for (int64_t c = 0; c < components_; ++c) put(t, c, seq.pos0 + t + shift);
        ++t;
        continue;
      }
      const int64_t s = seq.pos0 + t + shift;
      for (int64_t i = 0; i < run->count; ++i)
        for (int64_t c = 0; c < components_; ++c)
          put(t + i, c, s + (c == 1 ? i / run->grid_w : c == 2 ? i % run->grid_w : 0));
      t += run->count;
      shift = s + std::max(run->grid_h, run->grid_w) - (seq.pos0 + t);
      seq.cache->set_rope_shift(seq.pos0 + t, shift);
    }
  }

  // Checks the batch, makes room in every cache (private copies of shared
  // blocks about to be written) and lays the tokens out; returns their count.
  // Throws before any cache changes size.
  int64_t plan(std::span<const BatchEntry> batch) {
    seqs_.resize(batch.size());
    int64_t n = 0;
    for (size_t e = 0; e < batch.size(); ++e) {
      const BatchEntry& b = batch[e];
      const std::string where = batch.size() > 1 ? "batch entry " + std::to_string(e) + ": " : "";
      if (!b.cache) throw InvalidArgumentError(where + "no KV cache");
      const KVShape& ks = b.cache->pool()->shape();
      if (ks.layers != s_.layers || ks.kv_heads != s_.kv_heads || ks.head_dim != s_.head_dim)
        throw InvalidArgumentError(where + "KV cache was made for another model");
      for (size_t f = 0; f < e; ++f)
        if (batch[f].cache == b.cache)
          throw InvalidArgumentError(where + "the same KV cache is already batch entry " + std::to_string(f));
      int64_t covered = 0;  // embeddings come in token order, inside the entry
      for (size_t k = 0; k < b.soft_tokens.size(); ++k) {
        const SoftTokens& ei = b.soft_tokens[k];
        const std::string which = where + "soft_tokens[" + std::to_string(k) + "]: ";
        if (!ei.rows || ei.count <= 0) throw InvalidArgumentError(which + "no rows");
        if (ei.grid_h < 0 || ei.grid_w < 0 || ((ei.grid_h || ei.grid_w) && ei.grid_h * ei.grid_w != ei.count))
          throw InvalidArgumentError(which + "a grid of " + std::to_string(ei.grid_h) + " x " +
                                     std::to_string(ei.grid_w) + " does not hold its " + std::to_string(ei.count) +
                                     " rows");
        if (ei.index < covered || ei.index + ei.count > static_cast<int64_t>(b.tokens.size()))
          throw InvalidArgumentError(which + "tokens [" + std::to_string(ei.index) + ", " +
                                     std::to_string(ei.index + ei.count) + ") overlap another input or lie outside the " +
                                     std::to_string(b.tokens.size()) + " tokens");
        covered = ei.index + ei.count;
      }
      for (size_t t = 0, k = 0; t < b.tokens.size(); ++t) {
        // Tokens an input embedding stands for are never looked up.
        while (k < b.soft_tokens.size() && b.soft_tokens[k].index + b.soft_tokens[k].count <= static_cast<int64_t>(t)) ++k;
        if (k < b.soft_tokens.size() && b.soft_tokens[k].index <= static_cast<int64_t>(t)) continue;
        if (b.tokens[t] < 0 || b.tokens[t] >= s_.vocab)
          throw InvalidArgumentError(where + "token id " + std::to_string(b.tokens[t]) + " at index " +
                                     std::to_string(t) + " is outside the vocabulary [0, " + std::to_string(s_.vocab) +
                                     ")");
      }
      if (b.start < -1 || b.start > b.cache->size())
        throw InvalidArgumentError(where + "start position " + std::to_string(b.start) + " is past the " +
                                   std::to_string(b.cache->size()) + " cached positions");
      const int64_t pos0 = b.start < 0 ? b.cache->size() : b.start;
      const int64_t len = static_cast<int64_t>(b.tokens.size());
      if (pos0 + len > b.cache->max_positions())
        throw ContextWindowError(where + std::to_string(pos0 + len) + " positions exceed the context window of " +
                                 std::to_string(b.cache->max_positions()));
      seqs_[e] = Seq{b.cache, n, len, pos0, b.logits, {}, b.soft_tokens};
      n += len;
    }
    for (auto& seq : seqs_) {
      if (seq.pos0 < seq.cache->size()) seq.cache->truncate(seq.pos0);  // a requested rewind
      seq.cache->prepare_write(seq.pos0, seq.pos0 + seq.n);            // may throw OutOfMemoryError
    }
    ids_.resize(static_cast<size_t>(n));
    positions_.resize(static_cast<size_t>(n * components_));
    attn_seqs_.resize(seqs_.size());
    for (size_t e = 0; e < seqs_.size(); ++e) {
      Seq& seq = seqs_[e];
      std::copy(batch[e].tokens.begin(), batch[e].tokens.end(), ids_.begin() + seq.offset);
      for (const auto& ei : seq.soft_tokens)  // looked up, then overwritten: any valid id will do
        std::fill_n(ids_.begin() + seq.offset + ei.index, ei.count, 0);
      rope_positions(seq, n);
      const auto& pool = *seq.cache->pool();
      seq.blocks.clear();
      for (int32_t b : seq.cache->blocks()) seq.blocks.push_back(pool.data(b));
    }
    return n;
  }

  void size_scratch(int64_t n) {
    if (n <= scratch_tokens_) return;
    scratch_tokens_ = n;
    const auto N = static_cast<size_t>(n);
    const size_t q = static_cast<size_t>(s_.heads * s_.head_dim), kv = static_cast<size_t>(s_.kv_heads * s_.head_dim);
    const size_t inter = static_cast<size_t>(std::max(s_.intermediate, s_.moe.experts ? s_.intermediate : 0));
    x_.resize(N * s_.hidden);
    h_.resize(N * s_.hidden);
    out_.resize(N * s_.hidden);
    q_.resize(N * q);
    k_.resize(N * kv);
    v_.resize(N * kv);
    attn_.resize(N * q);
    gate_.resize(N * inter);
    up_.resize(N * inter);
    if (s_.moe.experts) {
      router_.resize(N * s_.moe.experts);
      moe_in_.resize(N * s_.hidden);
      moe_out_.resize(N * s_.hidden);
      moe_tokens_.resize(N);
      moe_weights_.resize(N);
    }
  }

  void layer(int64_t i, int64_t n) {
    const LayerWeights& l = w_.layers[i];
    const LayerSpec& ls = s_.layer[i];
    const int64_t H = s_.hidden, D = s_.head_dim;

    // Attention (on the normed input, or on the residual stream itself when
    // the block has post-norms only).
    const float* attn_in = x_.data();
    if (!l.attn_norm.empty()) {
      be_->rms_norm(x_.data(), l.attn_norm.data(), n, H, s_.norm_eps, s_.norm_plus_one, h_.data());
      attn_in = h_.data();
    }
    const Backend::LinearJob qkv[] = {
        {&l.q, q_.data(), bias(l.q_bias)}, {&l.k, k_.data(), bias(l.k_bias)}, {&l.v, v_.data(), bias(l.v_bias)}};
    be_->linear_group(qkv, 3, attn_in, n);
    if (!l.q_norm.empty()) {
      // Per head: rows of head_dim; whole width: one row per token.
      const int64_t qd = s_.qk_norm_whole_width ? s_.heads * D : D, kd = s_.qk_norm_whole_width ? s_.kv_heads * D : D;
      be_->rms_norm(q_.data(), l.q_norm.data(), n * s_.heads * D / qd, qd, s_.norm_eps, s_.norm_plus_one, q_.data());
      be_->rms_norm(k_.data(), l.k_norm.data(), n * s_.kv_heads * D / kd, kd, s_.norm_eps, s_.norm_plus_one, k_.data());
    }
    if (ls.use_rope) {
      const auto& sections = section_ropes_[ls.rope];
      if (sections.empty()) {
        const RopeConfig& rope = s_.ropes[ls.rope];
        be_->rope(q_.data(), n, s_.heads, D, rope, tables_[ls.rope]);
        be_->rope(k_.data(), n, s_.kv_heads, D, rope, tables_[ls.rope]);
      }
      for (size_t c = 0; c < sections.size(); ++c) {
        be_->rope(q_.data(), n, s_.heads, D, sections[c], section_tables_[ls.rope][c]);
        be_->rope(k_.data(), n, s_.kv_heads, D, sections[c], section_tables_[ls.rope][c]);
      }
    }
    int64_t used = 0;
    for (size_t e = 0; e < seqs_.size(); ++e) {
      const Seq& seq = seqs_[e];
      if (seq.n == 0) continue;
      const KVPool& pool = *seq.cache->pool();
      const KVLayerView kv{seq.blocks.data(), pool.key_offset(i),  pool.value_offset(i), pool.block_positions(),
                           pool.head_stride(),  pool.row_bytes(), pool.type()};
      for (int64_t t = 0; t < seq.n; ++t) {
        const int64_t pos = seq.pos0 + t;
        uint8_t* row = seq.blocks[static_cast<size_t>(pos / kv.block)] + (pos % kv.block) * kv.row_bytes;
        for (int64_t g = 0; g < s_.kv_heads; ++g) {
          const int64_t src = ((seq.offset + t) * s_.kv_heads + g) * D;
          kv_encode_row(kv.type, k_.data() + src, D, row + kv.k_offset + g * kv.head_stride);
          kv_encode_row(kv.type, v_.data() + src, D, row + kv.v_offset + g * kv.head_stride);
        }
      }
      const int64_t q_row = seq.offset * s_.heads * D;
      const int64_t* seen = seen_.empty() ? nullptr : seen_.data() + 2 * seq.offset;
      attn_seqs_[used++] = AttentionSeq{q_.data() + q_row, attn_.data() + q_row, seq.n, seq.pos0, kv, seen};
    }
    AttentionParams ap{s_.heads, s_.kv_heads, D, s_.attn_scale, s_.attn_softcap, ls.window, bias(l.sinks)};
    be_->attention(attn_seqs_.data(), used, ap);
    be_->linear(l.o, attn_.data(), n, out_.data(), bias(l.o_bias));
    if (!l.post_attn_norm.empty())
      be_->rms_norm(out_.data(), l.post_attn_norm.data(), n, H, s_.norm_eps, s_.norm_plus_one, out_.data());
    residual_add(n);

    // MLP.
    const float* mlp_in = x_.data();
    if (!l.ffn_norm.empty()) {
      be_->rms_norm(x_.data(), l.ffn_norm.data(), n, H, s_.norm_eps, s_.norm_plus_one, h_.data());
      mlp_in = h_.data();
    }
    if (ls.moe)
      moe(l, mlp_in, n);
    else
      mlp(l.gate, l.up, l.down, mlp_in, n, out_.data(), bias(l.gate_bias), bias(l.up_bias), bias(l.down_bias));
    if (!l.post_ffn_norm.empty())
      be_->rms_norm(out_.data(), l.post_ffn_norm.data(), n, H, s_.norm_eps, s_.norm_plus_one, out_.data());
    residual_add(n);
  }

  // x += block output (out_), scaled by the residual multiplier.
  void residual_add(int64_t n) {
    if (s_.residual_scale != 1) be_->scale(out_.data(), n * s_.hidden, s_.residual_scale);
    be_->add(x_.data(), out_.data(), n * s_.hidden);
  }

  static const float* bias(const std::vector<float>& b) { return b.empty() ? nullptr : b.data(); }

  void mlp(const Tensor& gate, const Tensor& up, const Tensor& down, const float* in, int64_t n, float* out,
           const float* gate_bias, const float* up_bias, const float* down_bias) {
    const int64_t inter = gate.rows();
    const Backend::LinearJob gate_up[] = {{&gate, gate_.data(), gate_bias}, {&up, up_.data(), up_bias}};
    be_->linear_group(gate_up, 2, in, n);
    be_->gated_activation(gate_.data(), up_.data(), n * inter, s_.activation, gate_.data(), s_.swiglu_limit);
    be_->linear(down, gate_.data(), n, out, down_bias);
  }

  // Softmax over the router logits, top-k, optional renormalisation; each
  // expert then runs once on all the tokens routed to it.
  void moe(const LayerWeights& l, const float* in, int64_t n) {
    const int64_t E = s_.moe.experts, K = s_.moe.top_k, H = s_.hidden;
    be_->linear(l.router, in, n, router_.data(), bias(l.router_bias));
    std::fill(out_.begin(), out_.begin() + n * H, 0.0f);
    // chosen[t*K + j] = (expert, weight)
    chosen_.resize(static_cast<size_t>(n * K));
    for (int64_t t = 0; t < n; ++t) {
      float* r = router_.data() + t * E;
      const float mx = *std::max_element(r, r + E);
      double sum = 0;
      for (int64_t e = 0; e < E; ++e) sum += (r[e] = std::exp(r[e] - mx));
      for (int64_t e = 0; e < E; ++e) r[e] = static_cast<float>(r[e] / sum);
      float picked = 0;
      for (int64_t j = 0; j < K; ++j) {
        int64_t best = -1;
        for (int64_t e = 0; e < E; ++e) {
          bool taken = false;
          for (int64_t q = 0; q < j; ++q) taken |= chosen_[t * K + q].first == e;
          if (!taken && (best < 0 || r[e] > r[best])) best = e;
        }
        chosen_[t * K + j] = {best, r[best]};
        picked += r[best];
      }
      if (s_.moe.renormalize)
        for (int64_t j = 0; j < K; ++j) chosen_[t * K + j].second /= picked;
    }
    for (int64_t e = 0; e < E; ++e) {
      int64_t m = 0;
      for (int64_t t = 0; t < n; ++t)
        for (int64_t j = 0; j < K; ++j)
          if (chosen_[t * K + j].first == e) {
            moe_tokens_[m] = t;
            moe_weights_[m] = chosen_[t * K + j].second;
            std::copy_n(in + t * H, H, moe_in_.data() + m * H);
            ++m;
          }
      if (m == 0) continue;
      const ExpertWeights& ex = l.experts[e];
      mlp(ex.gate, ex.up, ex.down, moe_in_.data(), m, moe_out_.data(), bias(ex.gate_bias), bias(ex.up_bias),
          bias(ex.down_bias));
      for (int64_t i = 0; i < m; ++i) {
        float* dst = out_.data() + moe_tokens_[i] * H;
        const float* src = moe_out_.data() + i * H;
        for (int64_t c = 0; c < H; ++c) dst[c] += moe_weights_[i] * src[c];
      }
    }
  }

  DecoderSpec s_;
  DecoderWeights w_;
  std::shared_ptr<Backend> be_;
  ModelInfo info_;
  std::vector<RopeTable> tables_;
  // Per rope: one masked rope and table per position component (M-RoPE), or none.
  std::vector<std::vector<RopeConfig>> section_ropes_;
  std::vector<std::vector<RopeTable>> section_tables_;
  int64_t components_ = 1;  // position components per token (positions_ is [components_][n])
  int64_t scratch_tokens_ = 0;
  std::vector<float> x_, h_, out_, q_, k_, v_, attn_, gate_, up_, router_, moe_in_, moe_out_, moe_weights_;
  std::vector<int64_t> moe_tokens_;
  std::vector<std::pair<int64_t, float>> chosen_;
  std::vector<Seq> seqs_;
  std::vector<int32_t> ids_;
  std::vector<int64_t> positions_;
  std::vector<int64_t> seen_;  // [n][2] or empty: see place_embeddings
  std::vector<AttentionSeq> attn_seqs_;
};

void validate(const DecoderSpec& s, const DecoderWeights& w) {
  auto bad = [&](const std::string& what) { throw ModelLoadError(s.model_type + " model: " + what); };
  if (static_cast<int64_t>(s.layer.size()) != s.layers || static_cast<int64_t>(w.layers.size()) != s.layers)
    bad("layer count does not match num_hidden_layers");
  for (auto& ls : s.layer)
    if (ls.rope < 0 || ls.rope >= static_cast<int>(s.ropes.size())) bad("layer refers to a missing rope");
  for (auto& rope : s.ropes) {
    int64_t sum = 0;
    for (int64_t c : rope.sections) sum += c < 0 ? -(1LL << 40) : c;
    if (!rope.sections.empty() && sum != static_cast<int64_t>(rope.inv_freq.size()))
      bad("rope position sections do not cover its " + std::to_string(rope.inv_freq.size()) + " frequencies");
  }
  for (int64_t i = 0; i < s.layers; ++i) {
    const auto& l = w.layers[i];
    const std::string at = "layer " + std::to_string(i) + ": ";
    auto sized = [&](const std::vector<float>& v, int64_t want, const char* what) {
      if (!v.empty() && static_cast<int64_t>(v.size()) != want)
        bad(at + what + " has " + std::to_string(v.size()) + " values, expected " + std::to_string(want));
    };
    sized(l.q_norm, s.qk_norm_whole_width ? s.heads * s.head_dim : s.head_dim, "q_norm");
    sized(l.k_norm, s.qk_norm_whole_width ? s.kv_heads * s.head_dim : s.head_dim, "k_norm");
    if (l.q_norm.empty() != l.k_norm.empty()) bad(at + "q_norm and k_norm come together");
    sized(l.sinks, s.heads, "attention sinks");
    sized(l.router_bias, s.moe.experts, "router bias");
    if (s.layer[i].moe) {
      if (static_cast<int64_t>(l.experts.size()) != s.moe.experts || s.moe.top_k <= 0 || s.moe.top_k > s.moe.experts)
        bad("layer " + std::to_string(i) + ": expert count or top-k invalid");
    } else if (!l.gate.valid() || !l.up.valid() || !l.down.valid()) {
      bad("layer " + std::to_string(i) + " has no MLP weights");
    }
  }
}

}  // namespace

std::unique_ptr<Model> make_decoder_model(DecoderSpec spec, DecoderWeights weights, const ModelOptions& options) {
  // Scratch holds the widest MLP (dense or expert).
  for (auto& l : weights.layers)
    for (auto& e : l.experts) spec.intermediate = std::max(spec.intermediate, e.gate.rows());
  validate(spec, weights);
  auto backend = options.backend ? options.backend : make_cpu_backend(options.threads);
  return std::make_unique<DecoderModel>(std::move(spec), std::move(weights), std::move(backend));
}

}  // namespace allm
