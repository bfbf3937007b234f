// The generic decoder-only transformer (see decoder.hpp). All scratch space is
// sized once per batch size, so a decode step performs no heap allocation.
#include "allm/decoder.hpp"

#include <algorithm>
#include <cmath>
#include <initializer_list>
#include <map>
#include <numeric>
#include <string>
#include <type_traits>
#include <vector>

#include "allm/error.hpp"
#include "allm/weight_format.hpp"
#include "engine/decoder_capture.hpp"

namespace allm {
namespace {

uint64_t stored_bytes(const Tensor& t) {
  if (!t.valid()) return 0;
  uint64_t b = t.nbytes;
  if (t.dtype == DType::MLX_AFFINE)
    b += 2 * static_cast<uint64_t>(t.rows() * (t.cols() / t.group_size)) * (t.scale_dtype == DType::F32 ? 4 : 2);
  return b;
}

// A layer's small F32 vectors (norm weights, biases, sinks) in backend memory;
// null where the layer has none.
struct LayerVectors {
  const float *attn_norm, *post_attn_norm, *ffn_norm, *post_ffn_norm, *q_norm, *k_norm, *sinks;
  const float *q_bias, *k_bias, *v_bias, *o_bias, *gate_bias, *up_bias, *down_bias, *router_bias;
  struct Expert {
    const float *gate_bias, *up_bias, *down_bias;
  };
  std::vector<Expert> experts;
};

// Calls place(vector) for every F32 vector of the weights, in one fixed
// order, storing what it returns in `out` (and the final norm in `final_norm`).
template <class Place>
void place_vectors(const DecoderWeights& w, Place&& place, std::vector<LayerVectors>& out, const float*& final_norm) {
  final_norm = place(w.final_norm);
  out.resize(w.layers.size());
  for (size_t i = 0; i < w.layers.size(); ++i) {
    const LayerWeights& l = w.layers[i];
    LayerVectors& v = out[i];
    v = LayerVectors{place(l.attn_norm), place(l.post_attn_norm), place(l.ffn_norm), place(l.post_ffn_norm),
                     place(l.q_norm),    place(l.k_norm),         place(l.sinks),    place(l.q_bias),
                     place(l.k_bias),    place(l.v_bias),         place(l.o_bias),   place(l.gate_bias),
                     place(l.up_bias),   place(l.down_bias),      place(l.router_bias), {}};
    for (const ExpertWeights& e : l.experts) v.experts.push_back({place(e.gate_bias), place(e.up_bias), place(e.down_bias)});
  }
}

// Every weight matrix of the model (the LM head may be the embedding itself).
template <class Visit>
void visit_matrices(DecoderWeights& w, Visit&& visit) {
  visit(w.embed);
  visit(w.lm_head);
  for (auto& l : w.layers) {
    for (Tensor* t : {&l.q, &l.k, &l.v, &l.o, &l.gate, &l.up, &l.down, &l.router}) visit(*t);
    for (auto& e : l.experts)
      for (Tensor* t : {&e.gate, &e.up, &e.down}) visit(*t);
  }
}

// Logits rows computed (and downloaded) at a time: bounds the backend memory
// the LM head's output takes when every position's logits are asked for.
constexpr int64_t kLogitsRows = 64;

class DecoderModel final : public Model, public ForwardScratch {
 public:
  DecoderModel(DecoderSpec spec, DecoderWeights w, std::shared_ptr<Backend> backend)
      : s_(std::move(spec)), w_(std::move(w)), be_(std::move(backend)), domain_(be_->memory_domain()) {
    if (s_.attn_scale == 0) s_.attn_scale = 1.0f / std::sqrt(static_cast<float>(s_.head_dim));
    split_sectioned_ropes();
    info_.model_type = s_.model_type;
    info_.vocab_size = s_.vocab;
    info_.context_length = s_.context_length;
    info_.hidden_size = s_.hidden;
    info_.layers = s_.layers;
    info_.backend = be_->name();
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
    try {
      make_weights_resident();
    } catch (...) {  // e.g. device memory ran out: give back what was made (no destructor runs)
      for (const Tensor& t : resident_) be_->release_resident(t);
      throw;
    }
  }

  ~DecoderModel() override {
    for (const Tensor& t : resident_) be_->release_resident(t);
  }

  const ModelInfo& info() const override { return info_; }

  std::unique_ptr<KVCache> make_cache(int64_t capacity) const override {
    return std::make_unique<KVCache>(s_.layers, s_.kv_heads, s_.head_dim, s_.context_length,
                                     capacity > 0 ? capacity : std::min<int64_t>(s_.context_length, 512), be_);
  }

  std::shared_ptr<KVPool> make_pool(uint64_t budget_bytes, KVType type) const override {
    return std::make_shared<KVPool>(kv_shape(), budget_bytes, type, KVPool::kDefaultBlockPositions, be_);
  }

  using Model::forward;

  void forward(std::span<const BatchEntry> batch, float* logits) override {
    const int64_t rows = run(batch);
    // The LM head a chunk of rows at a time, each chunk downloaded into `logits`.
    for (int64_t r0 = 0; r0 < rows; r0 += kLogitsRows) {
      const int64_t m = std::min(kLogitsRows, rows - r0), count = m * s_.vocab;
      be_->linear(w_.lm_head, sc_.h + r0 * s_.hidden, m, sc_.logits);
      if (s_.logits_scale != 1) be_->scale(sc_.logits, count, s_.logits_scale);
      if (s_.final_softcap > 0) be_->softcap(sc_.logits, count, s_.final_softcap);
      be_->download(logits + r0 * s_.vocab, sc_.logits, static_cast<size_t>(count) * sizeof(float));
    }
  }

  void forward_hidden(std::span<const BatchEntry> batch, float* hidden) override {
    const int64_t rows = run(batch);
    if (rows > 0) be_->download(hidden, sc_.h, static_cast<size_t>(rows * s_.hidden) * sizeof(float));
  }

  // The decoder's scratch for `tokens` tokens, zeroed (every page touched),
  // and the backend's scratch for each matrix product a call of that many
  // tokens makes (the LM head's over at most kLogitsRows rows).
  void reserve_scratch(int64_t tokens) override {
    if (tokens <= 0) return;
    size_scratch(tokens);
    be_->zero(scratch_.data(), scratch_.size());
    auto* backend = dynamic_cast<BackendScratch*>(be_.get());
    if (!backend) return;
    auto reserve = [&](std::initializer_list<const Tensor*> group, int64_t n) {
      Backend::LinearJob jobs[3];
      int count = 0;
      for (const Tensor* t : group)
        if (t->valid()) jobs[count++] = {t, nullptr, nullptr};
      if (count > 0) backend->reserve_linear(jobs, count, n);
    };
    for (int64_t i = 0; i < s_.layers; ++i) {
      const LayerWeights& l = w_.layers[i];
      reserve({&l.q, &l.k, &l.v}, tokens);
      reserve({&l.o}, tokens);
      if (s_.layer[i].moe) {
        reserve({&l.router}, tokens);
        for (const ExpertWeights& e : l.experts) {  // an expert sees each token at most once
          reserve({&e.gate, &e.up}, tokens);
          reserve({&e.down}, tokens);
        }
      } else {
        reserve({&l.gate, &l.up}, tokens);
        reserve({&l.down}, tokens);
      }
    }
    reserve({&w_.lm_head}, std::min(tokens, kLogitsRows));
  }

  int64_t scratch_tokens() const override { return scratch_tokens_; }

 private:
  // Matrices through the backend (the CPU keeps the stored bytes; a GPU
  // backend uploads them in its own layout), each stored tensor once (a tied
  // LM head is the embedding); the F32 vectors uploaded into one buffer.
  void make_weights_resident() {
    // Stored bytes -> the views made of them (a resident copy, and the source it came from).
    std::map<const void*, std::vector<std::pair<size_t, Tensor>>> made;
    visit_matrices(w_, [&](Tensor& t) {
      if (!t.valid()) return;
      auto& same_bytes = made[t.data];
      for (const auto& [i, source] : same_bytes)
        if (source.dtype == t.dtype && source.shape == t.shape) {
          t = resident_[i];
          return;
        }
      same_bytes.emplace_back(resident_.size(), t);
      resident_.push_back(be_->make_resident(t));
      t = resident_.back();
    });

    size_t bytes = 0;
    auto measure = [&](const std::vector<float>& v) -> const float* {
      bytes += (v.size() * sizeof(float) + 63) / 64 * 64;
      return nullptr;
    };
    place_vectors(w_, measure, vec_, final_norm_);
    vectors_ = BackendBuffer(*be_, bytes);
    size_t at = 0;
    auto upload = [&](const std::vector<float>& v) -> const float* {
      if (v.empty()) return nullptr;
      float* dst = vectors_.at<float>(at);
      be_->upload(dst, v.data(), v.size() * sizeof(float));
      at += (v.size() * sizeof(float) + 63) / 64 * 64;
      return dst;
    };
    place_vectors(w_, upload, vec_, final_norm_);
  }

  // The blocks over every entry's tokens; the rows whose output was asked for
  // end up final-normed in sc_.h, in entry order. Returns their count.
  int64_t run(std::span<const BatchEntry> batch) {
    const int64_t n = plan(batch);
    if (n == 0) return 0;
    size_scratch(n);
    // The call's token ids and positions go to the backend once; it makes the
    // rope tables from them (one per rope part: M-RoPE's position component c
    // turns part c).
    be_->upload(sc_.ids, ids_.data(), ids_.size() * sizeof(int32_t));
    be_->upload(sc_.positions, positions_.data(), positions_.size() * sizeof(int64_t));
    for (size_t r = 0; r < rope_parts_.size(); ++r)
      for (size_t c = 0; c < rope_parts_[r].size(); ++c)
        be_->rope_table(rope_parts_[r][c], sc_.positions + c * n, n, sc_.rope[r][c]);

    be_->embedding(w_.embed, sc_.ids, n, sc_.x, s_.embed_scale);
    place_embeddings();
    for (int64_t i = 0; i < s_.layers; ++i) layer(i, n);
    for (auto& seq : seqs_) seq.cache->advance(seq.n);

    // Rows whose output was asked for, gathered in entry order.
    const auto rows = static_cast<int64_t>(out_rows_.size());
    if (rows > 0) {
      be_->upload(sc_.rows, out_rows_.data(), out_rows_.size() * sizeof(int32_t));
      be_->gather_rows(sc_.x, sc_.rows, rows, s_.hidden, sc_.out);
      be_->rms_norm(sc_.out, final_norm_, rows, s_.hidden, s_.norm_eps, s_.norm_plus_one, sc_.h);
    }
    return rows;
  }

  KVShape kv_shape() const { return KVShape{s_.layers, s_.kv_heads, s_.head_dim, s_.context_length}; }

  // A rope with position sections (M-RoPE) runs as one rotation per position
  // component, each with the other components' frequencies set to zero: those
  // pairs turn by exactly 0 (cos 1, sin 0), so the rotations compose to
  // M-RoPE with the backend's ordinary rope op. The attention factor rides on
  // the first rotation only, so that every pair gets it once. A rope without
  // sections is its own single part.
  void split_sectioned_ropes() {
    rope_parts_.resize(s_.ropes.size());
    for (size_t r = 0; r < s_.ropes.size(); ++r) {
      const RopeConfig& rope = s_.ropes[r];
      if (rope.sections.empty()) {
        rope_parts_[r] = {rope};
        continue;
      }
      components_ = std::max<int64_t>(components_, static_cast<int64_t>(rope.sections.size()));
      size_t first = 0;
      for (size_t c = 0; c < rope.sections.size(); ++c) {
        RopeConfig part = rope;
        part.sections.clear();
        const size_t end = first + static_cast<size_t>(rope.sections[c]);
        for (size_t i = 0; i < part.inv_freq.size(); ++i)
          if (i < first || i >= end) part.inv_freq[i] = 0;
        if (c > 0) part.attention_scale = 1;
        rope_parts_[r].push_back(std::move(part));
        first = end;
      }
    }
  }

  // One sequence of the current call: its tokens are rows [offset, offset + n).
  struct Seq {
    KVCache* cache;
    int64_t offset, n, pos0;
    LogitsMode mode;
    std::vector<uint8_t*> blocks;  // the cache's blocks (backend memory), in position order
    std::span<const SoftTokens> soft_tokens;
  };

  // Input embeddings (host rows, uploaded) over the token embeddings; the
  // positions each token of a bidirectional group sees (seen_, [n][2]) when
  // any entry has one.
  void place_embeddings() {
    bool any_bidirectional = false;
    for (const auto& seq : seqs_)
      for (const auto& e : seq.soft_tokens) {
        be_->upload(sc_.x + (seq.offset + e.index) * s_.hidden, e.rows,
                    static_cast<size_t>(e.count * s_.hidden) * sizeof(float));
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
      if (const Backend& kv = b.cache->pool()->backend(); &kv != be_.get() && kv.memory_domain() != domain_)
        throw InvalidArgumentError(where + "KV cache lives in " + kv.memory_domain() + " memory, but the model runs on the " +
                                   be_->name() + " backend (" + domain_ + " memory); make it with the model's make_pool");
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
    out_rows_.clear();
    attn_seqs_.resize(seqs_.size());
    appends_.resize(seqs_.size());
    for (size_t e = 0; e < seqs_.size(); ++e) {
      Seq& seq = seqs_[e];
      std::copy(batch[e].tokens.begin(), batch[e].tokens.end(), ids_.begin() + seq.offset);
      for (const auto& ei : seq.soft_tokens)  // looked up, then overwritten: any valid id will do
        std::fill_n(ids_.begin() + seq.offset + ei.index, ei.count, 0);
      rope_positions(seq, n);
      const int64_t first = seq.mode == LogitsMode::all ? 0 : seq.mode == LogitsMode::last ? seq.n - 1 : seq.n;
      for (int64_t t = std::max<int64_t>(first, 0); t < seq.n; ++t)
        out_rows_.push_back(static_cast<int32_t>(seq.offset + t));
      const auto& pool = *seq.cache->pool();
      seq.blocks.clear();
      for (int32_t b : seq.cache->blocks()) seq.blocks.push_back(pool.data(b));
    }
    return n;
  }

  // Scratch for `tokens` tokens, all in one backend buffer.
  struct Scratch {
    float *x, *h, *out, *q, *k, *v, *attn, *gate, *up, *router, *moe_in, *moe_out, *moe_weights, *logits;
    int32_t *ids, *rows, *moe_chosen, *moe_tokens, *moe_slots;
    int64_t* positions;
    std::vector<std::vector<float*>> rope;  // a cos/sin table per rope and part (rope_parts_)
  };

  // Lays the scratch of n tokens out from `base` (null: only measures);
  // returns the bytes it takes.
  size_t lay_out(uint8_t* base, int64_t n, Scratch& sc) const {
    size_t bytes = 0;
    auto take = [&](auto*& ptr, int64_t count) {
      using T = std::remove_reference_t<decltype(*ptr)>;
      ptr = base ? reinterpret_cast<T*>(base + bytes) : nullptr;
      bytes += (static_cast<size_t>(std::max<int64_t>(count, 0)) * sizeof(T) + 63) / 64 * 64;
    };
    const int64_t q = s_.heads * s_.head_dim, kv = s_.kv_heads * s_.head_dim, H = s_.hidden;
    const int64_t E = s_.moe.experts, K = s_.moe.top_k, moe_n = E ? n : 0;
    take(sc.x, n * H), take(sc.h, n * H), take(sc.out, n * H);
    take(sc.q, n * q), take(sc.k, n * kv), take(sc.v, n * kv), take(sc.attn, n * q);
    take(sc.gate, n * s_.intermediate), take(sc.up, n * s_.intermediate);
    take(sc.router, moe_n * E), take(sc.moe_in, moe_n * H), take(sc.moe_out, moe_n * H);
    take(sc.moe_chosen, moe_n * K), take(sc.moe_weights, moe_n * K);
    take(sc.moe_tokens, moe_n * K), take(sc.moe_slots, moe_n * K);
    take(sc.logits, std::min(n, kLogitsRows) * s_.vocab);
    take(sc.ids, n), take(sc.rows, n), take(sc.positions, n * components_);
    sc.rope.resize(rope_parts_.size());
    for (size_t r = 0; r < rope_parts_.size(); ++r) {
      sc.rope[r].resize(rope_parts_[r].size());
      for (size_t c = 0; c < rope_parts_[r].size(); ++c) take(sc.rope[r][c], n * (rope_parts_[r][c].rotary_dim / 2) * 2);
    }
    return bytes;
  }

  void size_scratch(int64_t n) {
    if (n <= scratch_tokens_) return;
    scratch_.reset();  // the old one goes back before the larger one is taken
    scratch_ = BackendBuffer(*be_, lay_out(nullptr, n, sc_));
    lay_out(scratch_.at<uint8_t>(0), n, sc_);
    scratch_tokens_ = n;
  }

  void layer(int64_t i, int64_t n) {
    const LayerWeights& l = w_.layers[i];  // resident matrices
    const LayerVectors& lv = vec_[i];
    const LayerSpec& ls = s_.layer[i];
    const int64_t H = s_.hidden, D = s_.head_dim;

    // Attention (on the normed input, or on the residual stream itself when
    // the block has post-norms only).
    const float* attn_in = sc_.x;
    if (lv.attn_norm) {
      be_->rms_norm(sc_.x, lv.attn_norm, n, H, s_.norm_eps, s_.norm_plus_one, sc_.h);
      attn_in = sc_.h;
    }
    const Backend::LinearJob qkv[] = {{&l.q, sc_.q, lv.q_bias}, {&l.k, sc_.k, lv.k_bias}, {&l.v, sc_.v, lv.v_bias}};
    be_->linear_group(qkv, 3, attn_in, n);
    if (lv.q_norm) {
      // Per head: rows of head_dim; whole width: one row per token.
      const int64_t qd = s_.qk_norm_whole_width ? s_.heads * D : D, kd = s_.qk_norm_whole_width ? s_.kv_heads * D : D;
      be_->rms_norm(sc_.q, lv.q_norm, n * s_.heads * D / qd, qd, s_.norm_eps, s_.norm_plus_one, sc_.q);
      be_->rms_norm(sc_.k, lv.k_norm, n * s_.kv_heads * D / kd, kd, s_.norm_eps, s_.norm_plus_one, sc_.k);
    }
    if (ls.use_rope) {
      const auto& parts = rope_parts_[ls.rope];
      for (size_t c = 0; c < parts.size(); ++c) {
        be_->rope(sc_.q, n, s_.heads, D, parts[c], sc_.rope[ls.rope][c]);
        be_->rope(sc_.k, n, s_.kv_heads, D, parts[c], sc_.rope[ls.rope][c]);
      }
    }
    // Each sequence's new keys and values go into its cache; attention then reads them there.
    int64_t used = 0;
    for (const Seq& seq : seqs_) {
      if (seq.n == 0) continue;
      const KVPool& pool = *seq.cache->pool();
      const KVLayerView kv{seq.blocks.data(), pool.key_offset(i),  pool.value_offset(i), pool.block_positions(),
                           pool.head_stride(),  pool.row_bytes(), pool.type()};
      const int64_t kv_row = seq.offset * s_.kv_heads * D, q_row = seq.offset * s_.heads * D;
      const int64_t* seen = seen_.empty() ? nullptr : seen_.data() + 2 * seq.offset;
      appends_[used] = KVAppendSeq{sc_.k + kv_row, sc_.v + kv_row, seq.n, seq.pos0, kv};
      attn_seqs_[used++] = AttentionSeq{sc_.q + q_row, sc_.attn + q_row, seq.n, seq.pos0, kv, seen};
    }
    be_->kv_append(appends_.data(), used, s_.kv_heads, D);
    AttentionParams ap{s_.heads, s_.kv_heads, D, s_.attn_scale, s_.attn_softcap, ls.window, lv.sinks};
    be_->attention(attn_seqs_.data(), used, ap);
    be_->linear(l.o, sc_.attn, n, sc_.out, lv.o_bias);
    if (lv.post_attn_norm)
      be_->rms_norm(sc_.out, lv.post_attn_norm, n, H, s_.norm_eps, s_.norm_plus_one, sc_.out);
    residual_add(n);

    // MLP.
    const float* mlp_in = sc_.x;
    if (lv.ffn_norm) {
      be_->rms_norm(sc_.x, lv.ffn_norm, n, H, s_.norm_eps, s_.norm_plus_one, sc_.h);
      mlp_in = sc_.h;
    }
    if (ls.moe)
      moe(l, lv, mlp_in, n);
    else
      mlp(l.gate, l.up, l.down, mlp_in, n, sc_.out, lv.gate_bias, lv.up_bias, lv.down_bias);
    if (lv.post_ffn_norm)
      be_->rms_norm(sc_.out, lv.post_ffn_norm, n, H, s_.norm_eps, s_.norm_plus_one, sc_.out);
    residual_add(n);
  }

  // x += block output (sc_.out), scaled by the residual multiplier.
  void residual_add(int64_t n) {
    if (s_.residual_scale != 1) be_->scale(sc_.out, n * s_.hidden, s_.residual_scale);
    be_->add(sc_.x, sc_.out, n * s_.hidden);
  }

  void mlp(const Tensor& gate, const Tensor& up, const Tensor& down, const float* in, int64_t n, float* out,
           const float* gate_bias, const float* up_bias, const float* down_bias) {
    const int64_t inter = gate.rows();
    const Backend::LinearJob gate_up[] = {{&gate, sc_.gate, gate_bias}, {&up, sc_.up, up_bias}};
    be_->linear_group(gate_up, 2, in, n);
    be_->gated_activation(sc_.gate, sc_.up, n * inter, s_.activation, sc_.gate, s_.swiglu_limit);
    be_->linear(down, sc_.gate, n, out, down_bias);
  }

  // The backend routes (softmax, top-k, renormalisation); the host reads only
  // the chosen expert ids to plan the launches, then each expert runs once on
  // all the tokens routed to it and the backend adds its weighted outputs in.
  void moe(const LayerWeights& l, const LayerVectors& lv, const float* in, int64_t n) {
    const int64_t E = s_.moe.experts, K = s_.moe.top_k, H = s_.hidden;
    be_->linear(l.router, in, n, sc_.router, lv.router_bias);
    be_->moe_route(sc_.router, n, E, K, s_.moe.renormalize, sc_.moe_chosen, sc_.moe_weights);
    chosen_.resize(static_cast<size_t>(n * K));
    be_->download(chosen_.data(), sc_.moe_chosen, chosen_.size() * sizeof(int32_t));

    // Slots (t * K + j) grouped by expert, in token order: expert e's are
    // [expert_start_[e], expert_start_[e + 1]).
    expert_start_.assign(static_cast<size_t>(E + 1), 0);
    for (int32_t e : chosen_) {
      if (e < 0 || e >= E)
        throw Error(ErrorCode::internal, std::string("backend ") + be_->name() + " routed a token to expert " +
                                             std::to_string(e) + " of " + std::to_string(E));
      ++expert_start_[static_cast<size_t>(e) + 1];
    }
    for (int64_t e = 0; e < E; ++e) expert_start_[e + 1] += expert_start_[e];
    fill_.assign(expert_start_.begin(), expert_start_.end() - 1);
    slots_.resize(chosen_.size());
    tokens_.resize(chosen_.size());
    for (int64_t s = 0; s < n * K; ++s) {
      const int64_t at = fill_[chosen_[s]]++;
      slots_[at] = static_cast<int32_t>(s);
      tokens_[at] = static_cast<int32_t>(s / K);
    }
    be_->upload(sc_.moe_slots, slots_.data(), slots_.size() * sizeof(int32_t));
    be_->upload(sc_.moe_tokens, tokens_.data(), tokens_.size() * sizeof(int32_t));

    be_->zero(sc_.out, static_cast<size_t>(n * H) * sizeof(float));
    for (int64_t e = 0; e < E; ++e) {
      const int64_t first = expert_start_[e], m = expert_start_[e + 1] - first;
      if (m == 0) continue;
      const ExpertWeights& ex = l.experts[e];
      const LayerVectors::Expert& xv = lv.experts[e];
      be_->gather_rows(in, sc_.moe_tokens + first, m, H, sc_.moe_in);
      mlp(ex.gate, ex.up, ex.down, sc_.moe_in, m, sc_.moe_out, xv.gate_bias, xv.up_bias, xv.down_bias);
      be_->moe_combine(sc_.moe_out, sc_.moe_slots + first, m, H, K, sc_.moe_weights, sc_.out);
    }
  }

  DecoderSpec s_;
  DecoderWeights w_;  // its matrices are the resident ones once constructed
  std::shared_ptr<Backend> be_;  // declared before the buffers: outlives them
  std::string domain_;           // be_'s memory domain
  ModelInfo info_;
  // Per rope: the rope itself, or (M-RoPE) one masked rope per position component.
  std::vector<std::vector<RopeConfig>> rope_parts_;
  int64_t components_ = 1;  // position components per token (positions_ is [components_][n])
  std::vector<Tensor> resident_;  // each resident matrix once
  BackendBuffer vectors_;                         // every LayerVectors pointer points in here
  std::vector<LayerVectors> vec_;
  const float* final_norm_ = nullptr;
  BackendBuffer scratch_;
  Scratch sc_{};
  int64_t scratch_tokens_ = 0;
  // Host-side plan of the current call (no activations).
  std::vector<Seq> seqs_;
  std::vector<int32_t> ids_, out_rows_;
  std::vector<int64_t> positions_;
  std::vector<KVAppendSeq> appends_;
  std::vector<int64_t> seen_;  // [n][2] or empty (a host descriptor): see place_embeddings
  std::vector<AttentionSeq> attn_seqs_;
  std::vector<int32_t> chosen_, slots_, tokens_;
  std::vector<int64_t> expert_start_, fill_;
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
  if (DecoderDescription* capture = detail::decoder_capture()) {  // describe_decoder: hand over, build nothing
    capture->spec = std::move(spec);
    capture->weights = std::move(weights);
    throw detail::DecoderCaptured{};
  }
  auto backend = options.backend ? options.backend : make_cpu_backend(options.threads);
  return std::make_unique<DecoderModel>(std::move(spec), std::move(weights), std::move(backend));
}

}  // namespace allm
