// The generic decoder-only transformer (see decoder.hpp). All scratch space is
// sized once per batch size, so a decode step performs no heap allocation.
#include "allm/decoder.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
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

// Calls place(vector) for every F32 vector of layers [first, end), in one
// fixed order, storing what it returns in `out` (sized for every layer); the
// final norm too (into `final_norm`) when `with_final_norm`.
template <class Place>
void place_vectors(const DecoderWeights& w, int64_t first, int64_t end, bool with_final_norm, Place&& place,
                   std::vector<LayerVectors>& out, const float*& final_norm) {
  if (with_final_norm) final_norm = place(w.final_norm);
  for (auto i = static_cast<size_t>(first); i < static_cast<size_t>(end); ++i) {
    const LayerWeights& l = w.layers[i];
    LayerVectors& v = out[i];
    v = LayerVectors{place(l.attn_norm), place(l.post_attn_norm), place(l.ffn_norm), place(l.post_ffn_norm),
                     place(l.q_norm),    place(l.k_norm),         place(l.sinks),    place(l.q_bias),
                     place(l.k_bias),    place(l.v_bias),         place(l.o_bias),   place(l.gate_bias),
                     place(l.up_bias),   place(l.down_bias),      place(l.router_bias), {}};
    for (const ExpertWeights& e : l.experts) v.experts.push_back({place(e.gate_bias), place(e.up_bias), place(e.down_bias)});
  }
}

// Every weight matrix of one layer (LayerWeights, or const LayerWeights).
template <class Layer, class Visit>
void visit_layer_matrices(Layer& l, Visit&& visit) {
  for (auto* t : {&l.q, &l.k, &l.v, &l.o, &l.gate, &l.up, &l.down, &l.router}) visit(*t);
  for (auto& e : l.experts)
    for (auto* t : {&e.gate, &e.up, &e.down}) visit(*t);
}

// Each item's text, joined by " + " (the parts of a split model).
template <class Items, class Text>
std::string joined(const Items& items, Text&& text) {
  std::string d;
  for (const auto& item : items) d += (d.empty() ? "" : " + ") + text(item);
  return d;
}

// Logits rows computed (and downloaded) at a time: bounds the backend memory
// the LM head's output takes when every position's logits are asked for.
constexpr int64_t kLogitsRows = 64;

class DecoderModel final : public Model, public ForwardScratch, public OutputMemory {
 public:
  // parts: the backend of each run of layers (KVLayerPart: from first_layer
  // to the next part's); one part runs the whole model on one backend.
  DecoderModel(DecoderSpec spec, DecoderWeights w, const std::vector<KVLayerPart>& parts)
      : s_(std::move(spec)), w_(std::move(w)) {
    if (s_.attn_scale == 0) s_.attn_scale = 1.0f / std::sqrt(static_cast<float>(s_.head_dim));
    split_sectioned_ropes();
    for (size_t p = 0; p < parts.size(); ++p) {
      Part& part = parts_.emplace_back();
      part.be = parts[p].backend;
      part.domain = part.be->memory_domain();
      part.first = parts[p].first_layer;
      part.end = p + 1 < parts.size() ? parts[p + 1].first_layer : s_.layers;
    }
    enter(0);
    info_.model_type = s_.model_type;
    info_.vocab_size = s_.vocab;
    info_.context_length = s_.context_length;
    info_.hidden_size = s_.hidden;
    info_.layers = s_.layers;
    info_.backend = backend_description();
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
    check_device_memory();
    try {
      make_weights_resident();
    } catch (...) {  // e.g. device memory ran out: give back what was made (no destructor runs)
      release_weights();
      throw;
    }
  }

  ~DecoderModel() override { release_weights(); }

  const ModelInfo& info() const override { return info_; }

  std::unique_ptr<KVCache> make_cache(int64_t capacity) const override {
    auto cache = std::make_unique<KVCache>(make_pool(0, KVType::f32));
    cache->reserve(std::min(s_.context_length,
                            std::max<int64_t>(1, capacity > 0 ? capacity : std::min<int64_t>(s_.context_length, 512))));
    return cache;
  }

  // Blocks in the parts' backends, each part holding its layers.
  std::shared_ptr<KVPool> make_pool(uint64_t budget_bytes, KVType type) const override {
    std::vector<KVLayerPart> parts;
    for (const Part& p : parts_) parts.push_back({p.be, p.first});
    return std::make_shared<KVPool>(kv_shape(), budget_bytes, type, KVPool::kDefaultBlockPositions, std::move(parts));
  }

  using Model::forward;

  void forward(std::span<const BatchEntry> batch, float* logits) override {
    const int64_t rows = run(batch);
    // The LM head a chunk of rows at a time, each chunk downloaded into `logits`.
    for (int64_t r0 = 0; r0 < rows; r0 += kLogitsRows) {
      const int64_t m = std::min(kLogitsRows, rows - r0), count = m * s_.vocab;
      be_->linear(w_.lm_head, sc_->h + r0 * s_.hidden, m, sc_->logits);
      if (s_.logits_scale != 1) be_->scale(sc_->logits, count, s_.logits_scale);
      if (s_.final_softcap > 0) be_->softcap(sc_->logits, count, s_.final_softcap);
      be_->download(logits + r0 * s_.vocab, sc_->logits, static_cast<size_t>(count) * sizeof(float));
    }
  }

  void forward_hidden(std::span<const BatchEntry> batch, float* hidden) override {
    const int64_t rows = run(batch);
    if (rows > 0) be_->download(hidden, sc_->h, static_cast<size_t>(rows * s_.hidden) * sizeof(float));
  }

  // The decoder's scratch for `tokens` tokens, zeroed (every page touched),
  // and the backend's scratch for each matrix product a call of that many
  // tokens makes (the LM head's over at most kLogitsRows rows).
  void reserve_scratch(int64_t tokens) override {
    if (tokens <= 0) return;
    size_scratch(tokens);
    for (size_t p = 0; p < parts_.size(); ++p) reserve_part_scratch(parts_[p], tokens, p + 1 == parts_.size());
  }

  int64_t scratch_tokens() const override { return scratch_tokens_; }

  // Memory that the backend downloading the logits (the last part's) writes fastest.
  float* alloc_output(size_t floats) override {
    if (auto* host = dynamic_cast<BackendHostMemory*>(parts_.back().be.get()))
      return static_cast<float*>(host->alloc_host(floats * sizeof(float)));
    return new float[floats];
  }
  void free_output(float* p) noexcept override {
    if (auto* host = dynamic_cast<BackendHostMemory*>(parts_.back().be.get())) host->free_host(p);
    else delete[] p;
  }

 private:
  // One run of layers on one backend: its resident weights, vectors and scratch.
  struct Part;
  void reserve_part_scratch(Part& part, int64_t tokens, bool last) {
    part.be->zero(part.scratch.data(), part.scratch.size());
    auto* backend = dynamic_cast<BackendScratch*>(part.be.get());
    if (!backend) return;
    auto reserve = [&](std::initializer_list<const Tensor*> group, int64_t n) {
      Backend::LinearJob jobs[3];
      int count = 0;
      for (const Tensor* t : group)
        if (t->valid()) jobs[count++] = {t, nullptr, nullptr};
      if (count > 0) backend->reserve_linear(jobs, count, n);
    };
    for (int64_t i = part.first; i < part.end; ++i) {
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
    if (last) reserve({&w_.lm_head}, std::min(tokens, kLogitsRows));
  }

  // Ops go to the part running now: be_ and sc_ are its backend and scratch.
  void enter(size_t part) {
    cur_ = part;
    be_ = parts_[part].be.get();
    sc_ = &parts_[part].sc;
  }

  // "cpu", or per part "cuda (layers 0-19) + cpu (layers 20-31)".
  std::string backend_description() const {
    if (parts_.size() == 1) return parts_[0].be->name();
    return joined(parts_, [](const Part& p) {
      return std::string(p.be->name()) + " (layers " + std::to_string(p.first) + "-" + std::to_string(p.end - 1) + ")";
    });
  }

  // Matrices through each part's backend (the CPU keeps the stored bytes; a
  // GPU backend uploads them in its own layout): the embedding on the first
  // part, the LM head on the last, each layer's on its part; each stored
  // tensor once per part (a tied LM head is the embedding). Each part's F32
  // vectors uploaded into one buffer of its own.
  void make_weights_resident() {
    vec_.resize(w_.layers.size());
    for (size_t p = 0; p < parts_.size(); ++p) {
      Part& part = parts_[p];
      const bool first = p == 0, last = p + 1 == parts_.size();
      // Stored bytes -> the views made of them (a resident copy, and the source it came from).
      std::map<const void*, std::vector<std::pair<size_t, Tensor>>> made;
      auto make_resident = [&](Tensor& t) {
        if (!t.valid()) return;
        auto& same_bytes = made[t.data];
        for (const auto& [i, source] : same_bytes)
          if (source.dtype == t.dtype && source.shape == t.shape) {
            t = part.resident[i];
            return;
          }
        same_bytes.emplace_back(part.resident.size(), t);
        part.resident.push_back(part.be->make_resident(t));
        t = part.resident.back();
      };
      if (first) make_resident(w_.embed);
      if (last) make_resident(w_.lm_head);
      for (int64_t i = part.first; i < part.end; ++i) visit_layer_matrices(w_.layers[i], make_resident);

      size_t bytes = 0;
      auto measure = [&](const std::vector<float>& v) -> const float* {
        bytes += (v.size() * sizeof(float) + 63) / 64 * 64;
        return nullptr;
      };
      place_vectors(w_, part.first, part.end, last, measure, vec_, final_norm_);
      part.vectors = BackendBuffer(*part.be, bytes);
      size_t at = 0;
      auto upload = [&](const std::vector<float>& v) -> const float* {
        if (v.empty()) return nullptr;
        float* dst = part.vectors.at<float>(at);
        part.be->upload(dst, v.data(), v.size() * sizeof(float));
        at += (v.size() * sizeof(float) + 63) / 64 * 64;
        return dst;
      };
      place_vectors(w_, part.first, part.end, last, upload, vec_, final_norm_);
    }
  }

  // Refuses the model before any weight is uploaded when a part's weights
  // do not fit in its device's free memory, naming the --gpu-layers that
  // would (the KV cache and scratch come on top: they are allocated as
  // they are needed, and a device out of memory then says so itself).
  void check_device_memory() const {
    for (size_t p = 0; p < parts_.size(); ++p) {
      const Part& part = parts_[p];
      const auto* device = dynamic_cast<const BackendDeviceMemory*>(part.be.get());
      if (!device) continue;
      const BackendDeviceMemory::Info mem = device->device_memory();
      const bool first = p == 0, last = p + 1 == parts_.size();
      const uint64_t need = part_weight_bytes(first, part.first, part.end, last);
      if (need <= mem.free_bytes) continue;
      std::string what = "the model's weights on the " + std::string(part.be->name()) + " backend (" + part.domain +
                         ") take " + gib_text(need) + ", but " + gib_text(mem.free_bytes) + " of its " +
                         gib_text(mem.total_bytes) + " are free";
      if (first) {  // the most layers that fit beside the embedding, the LM head going to the CPU
        int64_t fit = 0;
        while (fit < (last ? part.end - 1 : part.end) && part_weight_bytes(true, 0, fit + 1, false) <= mem.free_bytes)
          ++fit;
        what += fit == 0 ? std::string("; not even the embedding and one layer fit: --gpu-layers 0 (config "
                                       "gpu_layers) runs the model on the CPU")
                         : "; --gpu-layers " + std::to_string(fit) + " (config gpu_layers) runs the first " +
                               std::to_string(fit) + " of the " + std::to_string(s_.layers) +
                               " layers there and the rest on the CPU";
      }
      throw OutOfMemoryError(what);
    }
  }
  // The stored bytes of the matrices a part holds: the embedding (first
  // part), layers [first, end), the LM head (last part; once when tied to
  // the embedding). The F32 vectors are a rounding error beside them.
  uint64_t part_weight_bytes(bool with_embedding, int64_t first, int64_t end, bool with_lm_head) const {
    uint64_t bytes = with_embedding ? stored_bytes(w_.embed) : 0;
    if (with_lm_head && !(with_embedding && w_.lm_head.data == w_.embed.data)) bytes += stored_bytes(w_.lm_head);
    for (int64_t i = first; i < end; ++i)
      visit_layer_matrices(w_.layers[i], [&](const Tensor& t) { bytes += stored_bytes(t); });
    return bytes;
  }
  static std::string gib_text(uint64_t bytes) {
    char text[32];
    std::snprintf(text, sizeof text, "%.2f GiB", static_cast<double>(bytes) / (1024.0 * 1024.0 * 1024.0));
    return text;
  }

  void release_weights() noexcept {
    for (Part& p : parts_)
      for (const Tensor& t : p.resident) p.be->release_resident(t);
    for (Part& p : parts_) p.resident.clear();
  }

  // The blocks over every entry's tokens; the rows whose output was asked for
  // end up final-normed in sc_->h, in entry order. Returns their count.
  int64_t run(std::span<const BatchEntry> batch) {
    const int64_t n = plan(batch);
    if (n == 0) return 0;
    size_scratch(n);
    for (size_t p = 0; p < parts_.size(); ++p) {
      enter(p);
      // The call's positions go to each part's backend once; it makes the
      // rope tables from them (one per rope part: M-RoPE's position
      // component c turns part c).
      be_->upload(sc_->positions, positions_.data(), positions_.size() * sizeof(int64_t));
      for (size_t r = 0; r < rope_parts_.size(); ++r)
        for (size_t c = 0; c < rope_parts_[r].size(); ++c)
          be_->rope_table(rope_parts_[r][c], sc_->positions + c * n, n, sc_->rope[r][c]);
      if (p == 0) {
        be_->upload(sc_->ids, ids_.data(), ids_.size() * sizeof(int32_t));
        be_->embedding(w_.embed, sc_->ids, n, sc_->x, s_.embed_scale);
        place_embeddings();
      } else {
        take_residual_stream(parts_[p - 1], n);
      }
      for (int64_t i = parts_[p].first; i < parts_[p].end; ++i) layer(i, n);
    }
    for (auto& seq : seqs_) seq.cache->advance(seq.n);

    // Rows whose output was asked for, gathered in entry order.
    const auto rows = static_cast<int64_t>(out_rows_.size());
    if (rows > 0) {
      be_->upload(sc_->rows, out_rows_.data(), out_rows_.size() * sizeof(int32_t));
      be_->gather_rows(sc_->x, sc_->rows, rows, s_.hidden, sc_->out);
      be_->rms_norm(sc_->out, final_norm_, rows, s_.hidden, s_.norm_eps, s_.norm_plus_one, sc_->h);
    }
    return rows;
  }

  // The residual stream of n tokens from the part before into the one running
  // now: downloaded straight into host memory, uploaded from it, or through
  // the host between two devices.
  void take_residual_stream(const Part& from, int64_t n) {
    const size_t bytes = static_cast<size_t>(n * s_.hidden) * sizeof(float);
    if (parts_[cur_].domain == "host") {
      from.be->download(sc_->x, from.sc.x, bytes);
    } else if (from.domain == "host") {
      be_->upload(sc_->x, from.sc.x, bytes);
    } else {
      handover_.resize(static_cast<size_t>(n * s_.hidden));
      from.be->download(handover_.data(), from.sc.x, bytes);
      be_->upload(sc_->x, handover_.data(), bytes);
    }
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
    std::vector<std::vector<uint8_t*>> blocks;  // per model part: the cache's blocks there (backend memory), in position order
    std::span<const SoftTokens> soft_tokens;
  };

  // Input embeddings (host rows, uploaded) over the token embeddings; the
  // positions each token of a bidirectional group sees (seen_, [n][2]) when
  // any entry has one.
  void place_embeddings() {
    bool any_bidirectional = false;
    for (const auto& seq : seqs_)
      for (const auto& e : seq.soft_tokens) {
        be_->upload(sc_->x + (seq.offset + e.index) * s_.hidden, e.rows,
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
      if (!serves_this_model(*b.cache->pool()))
        throw InvalidArgumentError(where + "KV cache lives in " + pool_memory(*b.cache->pool()) +
                                   " memory, but the model runs on the " + info_.backend + " backend (" + model_memory() +
                                   " memory); make it with the model's make_pool");
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
      seq.blocks.resize(parts_.size());
      for (size_t p = 0; p < parts_.size(); ++p) {
        seq.blocks[p].clear();
        for (int32_t b : seq.cache->blocks()) seq.blocks[p].push_back(pool.data(b, parts_[p].first));
      }
    }
    return n;
  }

  // Whether a pool's layer parts are the model's: the same layers in the same
  // backends' memory.
  bool serves_this_model(const KVPool& pool) const {
    const auto& pp = pool.parts();
    if (pp.size() != parts_.size()) return false;
    for (size_t p = 0; p < pp.size(); ++p)
      if (pp[p].first_layer != parts_[p].first ||
          (pp[p].backend != parts_[p].be && pp[p].backend->memory_domain() != parts_[p].domain))
        return false;
    return true;
  }
  std::string pool_memory(const KVPool& pool) const {
    return joined(pool.parts(), [](const KVLayerPart& p) { return p.backend->memory_domain(); });
  }
  std::string model_memory() const {
    return joined(parts_, [](const Part& p) { return p.domain; });
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

  // Every part's scratch.
  void size_scratch(int64_t n) {
    if (n <= scratch_tokens_) return;
    for (Part& p : parts_) {
      p.scratch.reset();  // the old one goes back before the larger one is taken
      p.scratch = BackendBuffer(*p.be, lay_out(nullptr, n, p.sc));
      lay_out(p.scratch.at<uint8_t>(0), n, p.sc);
    }
    scratch_tokens_ = n;
  }

  void layer(int64_t i, int64_t n) {
    const LayerWeights& l = w_.layers[i];  // resident matrices
    const LayerVectors& lv = vec_[i];
    const LayerSpec& ls = s_.layer[i];
    const int64_t H = s_.hidden, D = s_.head_dim;

    // Attention (on the normed input, or on the residual stream itself when
    // the block has post-norms only).
    const float* attn_in = sc_->x;
    if (lv.attn_norm) {
      be_->rms_norm(sc_->x, lv.attn_norm, n, H, s_.norm_eps, s_.norm_plus_one, sc_->h);
      attn_in = sc_->h;
    }
    const Backend::LinearJob qkv[] = {{&l.q, sc_->q, lv.q_bias}, {&l.k, sc_->k, lv.k_bias}, {&l.v, sc_->v, lv.v_bias}};
    be_->linear_group(qkv, 3, attn_in, n);
    if (lv.q_norm) {
      // Per head: rows of head_dim; whole width: one row per token.
      const int64_t qd = s_.qk_norm_whole_width ? s_.heads * D : D, kd = s_.qk_norm_whole_width ? s_.kv_heads * D : D;
      be_->rms_norm(sc_->q, lv.q_norm, n * s_.heads * D / qd, qd, s_.norm_eps, s_.norm_plus_one, sc_->q);
      be_->rms_norm(sc_->k, lv.k_norm, n * s_.kv_heads * D / kd, kd, s_.norm_eps, s_.norm_plus_one, sc_->k);
    }
    if (ls.use_rope) {
      const auto& parts = rope_parts_[ls.rope];
      for (size_t c = 0; c < parts.size(); ++c) {
        be_->rope(sc_->q, n, s_.heads, D, parts[c], sc_->rope[ls.rope][c]);
        be_->rope(sc_->k, n, s_.kv_heads, D, parts[c], sc_->rope[ls.rope][c]);
      }
    }
    // Each sequence's new keys and values go into its cache; attention then reads them there.
    int64_t used = 0;
    for (const Seq& seq : seqs_) {
      if (seq.n == 0) continue;
      const KVPool& pool = *seq.cache->pool();
      const KVLayerView kv{seq.blocks[cur_].data(), pool.key_offset(i), pool.value_offset(i), pool.block_positions(),
                           pool.head_stride(),  pool.row_bytes(), pool.type()};
      const int64_t kv_row = seq.offset * s_.kv_heads * D, q_row = seq.offset * s_.heads * D;
      const int64_t* seen = seen_.empty() ? nullptr : seen_.data() + 2 * seq.offset;
      appends_[used] = KVAppendSeq{sc_->k + kv_row, sc_->v + kv_row, seq.n, seq.pos0, kv};
      attn_seqs_[used++] = AttentionSeq{sc_->q + q_row, sc_->attn + q_row, seq.n, seq.pos0, kv, seen};
    }
    be_->kv_append(appends_.data(), used, s_.kv_heads, D);
    AttentionParams ap{s_.heads, s_.kv_heads, D, s_.attn_scale, s_.attn_softcap, ls.window, lv.sinks};
    be_->attention(attn_seqs_.data(), used, ap);
    be_->linear(l.o, sc_->attn, n, sc_->out, lv.o_bias);
    if (lv.post_attn_norm)
      be_->rms_norm(sc_->out, lv.post_attn_norm, n, H, s_.norm_eps, s_.norm_plus_one, sc_->out);
    residual_add(n);

    // MLP.
    const float* mlp_in = sc_->x;
    if (lv.ffn_norm) {
      be_->rms_norm(sc_->x, lv.ffn_norm, n, H, s_.norm_eps, s_.norm_plus_one, sc_->h);
      mlp_in = sc_->h;
    }
    if (ls.moe)
      moe(l, lv, mlp_in, n);
    else
      mlp(l.gate, l.up, l.down, mlp_in, n, sc_->out, lv.gate_bias, lv.up_bias, lv.down_bias);
    if (lv.post_ffn_norm)
      be_->rms_norm(sc_->out, lv.post_ffn_norm, n, H, s_.norm_eps, s_.norm_plus_one, sc_->out);
    residual_add(n);
  }

  // x += block output (sc_->out), scaled by the residual multiplier.
  void residual_add(int64_t n) {
    if (s_.residual_scale != 1) be_->scale(sc_->out, n * s_.hidden, s_.residual_scale);
    be_->add(sc_->x, sc_->out, n * s_.hidden);
  }

  void mlp(const Tensor& gate, const Tensor& up, const Tensor& down, const float* in, int64_t n, float* out,
           const float* gate_bias, const float* up_bias, const float* down_bias) {
    const int64_t inter = gate.rows();
    const Backend::LinearJob gate_up[] = {{&gate, sc_->gate, gate_bias}, {&up, sc_->up, up_bias}};
    be_->linear_group(gate_up, 2, in, n);
    be_->gated_activation(sc_->gate, sc_->up, n * inter, s_.activation, sc_->gate, s_.swiglu_limit);
    be_->linear(down, sc_->gate, n, out, down_bias);
  }

  // The backend routes (softmax, top-k, renormalisation); the host reads only
  // the chosen expert ids to plan the launches, then each expert runs once on
  // all the tokens routed to it and the backend adds its weighted outputs in.
  void moe(const LayerWeights& l, const LayerVectors& lv, const float* in, int64_t n) {
    const int64_t E = s_.moe.experts, K = s_.moe.top_k, H = s_.hidden;
    be_->linear(l.router, in, n, sc_->router, lv.router_bias);
    be_->moe_route(sc_->router, n, E, K, s_.moe.renormalize, sc_->moe_chosen, sc_->moe_weights);
    chosen_.resize(static_cast<size_t>(n * K));
    be_->download(chosen_.data(), sc_->moe_chosen, chosen_.size() * sizeof(int32_t));

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
    be_->upload(sc_->moe_slots, slots_.data(), slots_.size() * sizeof(int32_t));
    be_->upload(sc_->moe_tokens, tokens_.data(), tokens_.size() * sizeof(int32_t));

    be_->zero(sc_->out, static_cast<size_t>(n * H) * sizeof(float));
    for (int64_t e = 0; e < E; ++e) {
      const int64_t first = expert_start_[e], m = expert_start_[e + 1] - first;
      if (m == 0) continue;
      const ExpertWeights& ex = l.experts[e];
      const LayerVectors::Expert& xv = lv.experts[e];
      be_->gather_rows(in, sc_->moe_tokens + first, m, H, sc_->moe_in);
      mlp(ex.gate, ex.up, ex.down, sc_->moe_in, m, sc_->moe_out, xv.gate_bias, xv.up_bias, xv.down_bias);
      be_->moe_combine(sc_->moe_out, sc_->moe_slots + first, m, H, K, sc_->moe_weights, sc_->out);
    }
  }

  struct Part {
    std::shared_ptr<Backend> be;  // declared before the buffers: outlives them
    std::string domain;           // be's memory domain
    int64_t first = 0, end = 0;   // its layers [first, end)
    std::vector<Tensor> resident;  // each matrix made resident here once
    BackendBuffer vectors;         // its layers' LayerVectors (and the final norm, last part) point in here
    BackendBuffer scratch;
    Scratch sc{};
  };

  DecoderSpec s_;
  DecoderWeights w_;  // its matrices are the resident ones once constructed
  std::vector<Part> parts_;  // the embedding runs on the first, the LM head on the last
  size_t cur_ = 0;           // the part running now (enter)
  Backend* be_ = nullptr;    // its backend
  Scratch* sc_ = nullptr;    // its scratch
  std::vector<float> handover_;  // the residual stream between two device parts
  ModelInfo info_;
  // Per rope: the rope itself, or (M-RoPE) one masked rope per position component.
  std::vector<std::vector<RopeConfig>> rope_parts_;
  int64_t components_ = 1;  // position components per token (positions_ is [components_][n])
  std::vector<LayerVectors> vec_;  // in the vectors of each layer's part
  const float* final_norm_ = nullptr;
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
  std::vector<KVLayerPart> parts{{backend, 0}};
  // --gpu-layers N on a device backend: layers [N, layers) on the CPU (all of them for 0).
  if (options.gpu_layers >= 0 && options.gpu_layers < spec.layers && backend->memory_domain() != "host") {
    auto cpu = make_cpu_backend(options.threads);
    if (options.gpu_layers == 0)
      parts = {{cpu, 0}};
    else
      parts.push_back({cpu, options.gpu_layers});
  }
  return std::make_unique<DecoderModel>(std::move(spec), std::move(weights), parts);
}

}  // namespace allm
