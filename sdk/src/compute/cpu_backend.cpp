// The CPU backend: every op of compute.hpp on the thread pool and the SIMD
// kernel table chosen at start-up.
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "allm/compute.hpp"
#include "allm/error.hpp"
#include "allm/threadpool.hpp"
#include "allm/weight_format.hpp"
#include "kernels/attention_kernels.hpp"
#include "kernels/kernel_table.hpp"

namespace allm {
namespace {

// Rows of a weight tile dequantised once and reused across all tokens of a prefill.
constexpr int64_t kTileRows = 32;
// Rows per scheduling unit when decoding one token (a multiple of the
// 16-row panels of interleaved GGUF matrices).
constexpr int64_t kDecodeGrain = 16;
// Rows per scheduling unit of a batched (prepared-activation) matmul.
constexpr int64_t kPreparedGrain = 16;
// Jobs smaller than this many multiply-adds run on the calling thread: waking
// workers costs more than it saves.
constexpr int64_t kMinParallelWork = 1 << 15;
// Attention over a short context is cheaper inline than one more thread
// synchronisation per layer (which costs most when the machine is busy).
constexpr int64_t kMinParallelAttention = 1 << 20;

class CpuBackend final : public Backend, public BackendScratch {
 public:
  explicit CpuBackend(int threads) : pool_(threads), scratch_(pool_.size()) {}

  const char* name() const override { return "cpu"; }
  int threads() const override { return pool_.size(); }

  // Host memory: the CPU's "device" is the process itself.
  void* alloc(size_t bytes) override {
    void* p = std::aligned_alloc(64, (std::max<size_t>(bytes, 1) + 63) / 64 * 64);
    if (!p) throw OutOfMemoryError("cpu backend: cannot allocate " + std::to_string(bytes) + " bytes");
    return p;
  }
  void free(void* p) noexcept override { std::free(p); }
  void upload(void* dst, const void* src, size_t bytes) override { std::memcpy(dst, src, bytes); }
  void download(void* dst, const void* src, size_t bytes) override { std::memcpy(dst, src, bytes); }
  void copy(void* dst, const void* src, size_t bytes) override { std::memmove(dst, src, bytes); }
  void zero(void* dst, size_t bytes) override { std::memset(dst, 0, bytes); }
  std::string memory_domain() const override { return "host"; }

  // The kernels read the stored (and, for GGUF, load-time interleaved) bytes in place.
  Tensor make_resident(const Tensor& w) override { return w; }
  void release_resident(const Tensor&) noexcept override {}

  void linear(const Tensor& w, const float* x, int64_t n, float* y, const float* bias) override {
    LinearJob job{&w, y, bias};
    linear_group(&job, 1, x, n);
  }

  void reserve_linear(const LinearJob* jobs, int count, int64_t n) override {
    if (count > kMaxGroup) throw InvalidArgumentError("reserve_linear: too many jobs");
    const WeightFormat* fmt[kMaxGroup];
    int64_t in = 0;
    for (int j = 0; j < count; ++j) {
      fmt[j] = &weight_format_of(*jobs[j].w);
      in = std::max(in, jobs[j].w->cols());
    }
    size_t offset[kMaxGroup];
    int owner[kMaxGroup];
    bool all_batched = true;
    const size_t bytes = prepared_size(fmt, count, n, in, offset, owner, all_batched);
    // Vectors grow zero-filled: every page is touched here.
    if (prepared_.size() < bytes) prepared_.resize(bytes);
    if (n > 1 && !all_batched) reserve_scratch(kTileRows * in);
  }

  void linear_group(const LinearJob* jobs, int count, const float* x, int64_t n) override {
    // One row space over all jobs: job j owns rows [start[j], start[j+1]).
    int64_t start[kMaxGroup + 1] = {0};
    const WeightFormat* fmt[kMaxGroup];
    int64_t work = 0, in = 0;
    if (count > kMaxGroup) throw InvalidArgumentError("linear_group: too many jobs");
    for (int j = 0; j < count; ++j) {
      fmt[j] = &weight_format_of(*jobs[j].w);
      start[j + 1] = start[j] + jobs[j].w->rows();
      in = std::max(in, jobs[j].w->cols());
      work += jobs[j].w->rows() * jobs[j].w->cols() * n;
    }
    const int64_t total = start[count];
    // Formats with a batched path convert x once here (one buffer per
    // distinct `prepare`), not once per row range.
    const void* prepared[kMaxGroup] = {};
    const bool all_batched = prepare_inputs(fmt, count, x, n, in, prepared);
    auto run = [&](int t, int64_t b, int64_t e) {
      for (int j = 0; j < count && b < e; ++j) {
        const int64_t lo = std::max(b, start[j]), hi = std::min(e, start[j + 1]);
        if (lo >= hi) continue;
        if (prepared[j])
          fmt[j]->matmul(*jobs[j].w, lo - start[j], hi - start[j], prepared[j], jobs[j].y, jobs[j].w->rows());
        else
          rows(*jobs[j].w, *fmt[j], lo - start[j], hi - start[j], x, n, jobs[j].y, t);
      }
    };
    int64_t grain = kDecodeGrain;
    if (n > 1 && all_batched) {
      grain = kPreparedGrain;
    } else if (n > 1) {
      reserve_scratch(kTileRows * in);
      grain = kTileRows;
    }
    pool_.parallel_for(total, work < kMinParallelWork ? total : grain, run);
    for (int j = 0; j < count; ++j) {
      if (!jobs[j].bias) continue;
      const int64_t out = jobs[j].w->rows();
      for (int64_t t = 0; t < n; ++t)
        for (int64_t r = 0; r < out; ++r) jobs[j].y[t * out + r] += jobs[j].bias[r];
    }
  }

  void embedding(const Tensor& table, const int32_t* ids, int64_t n, float* out, float scale) override {
    const WeightFormat& fmt = weight_format_of(table);
    const int64_t dim = table.cols();
    for (int64_t t = 0; t < n; ++t) {
      fmt.dequant_rows(table, ids[t], ids[t] + 1, out + t * dim);
      if (scale != 1)
        for (int64_t j = 0; j < dim; ++j) out[t * dim + j] *= scale;
    }
  }

  void rms_norm(const float* x, const float* w, int64_t n, int64_t dim, float eps, bool plus_one,
                float* out) override {
    for (int64_t t = 0; t < n; ++t) {
      const float* xr = x + t * dim;
      float* o = out + t * dim;
      double ss = 0;
      for (int64_t j = 0; j < dim; ++j) ss += static_cast<double>(xr[j]) * xr[j];
      const float inv = 1.0f / std::sqrt(static_cast<float>(ss / dim) + eps);
      if (plus_one)
        for (int64_t j = 0; j < dim; ++j) o[j] = xr[j] * inv * (1.0f + w[j]);
      else
        for (int64_t j = 0; j < dim; ++j) o[j] = xr[j] * inv * w[j];
    }
  }

  void rope_table(const RopeConfig& rope, const int64_t* positions, int64_t n, float* table) override {
    const int64_t half = rope.rotary_dim / 2;
    for (int64_t t = 0; t < n; ++t) {
      // Same rounding as the reference: position and frequency multiplied in F32.
      const float pos = static_cast<float>(positions[t]);
      float* c = table + t * 2 * half;
      float* s = c + half;
      for (int64_t i = 0; i < half; ++i) {
        const float angle = pos * rope.inv_freq[i];
        c[i] = std::cos(angle) * rope.attention_scale;
        s[i] = std::sin(angle) * rope.attention_scale;
      }
    }
  }

  void rope(float* x, int64_t n, int64_t heads, int64_t head_dim, const RopeConfig& rope,
            const float* table) override {
    const int64_t half = rope.rotary_dim / 2;
    for (int64_t t = 0; t < n; ++t) {
      const float* c = table + t * 2 * half;
      const float* s = c + half;
      for (int64_t h = 0; h < heads; ++h) {
        float* v = x + (t * heads + h) * head_dim;
        if (rope.interleaved) {
          for (int64_t i = 0; i < half; ++i) {
            const float a = v[2 * i], b = v[2 * i + 1];
            v[2 * i] = a * c[i] - b * s[i];
            v[2 * i + 1] = b * c[i] + a * s[i];
          }
        } else {
          for (int64_t i = 0; i < half; ++i) {
            const float a = v[i], b = v[i + half];
            v[i] = a * c[i] - b * s[i];
            v[i + half] = b * c[i] + a * s[i];
          }
        }
      }
    }
  }

  void kv_append(const KVAppendSeq* seqs, int64_t count, int64_t kv_heads, int64_t head_dim) override {
    for (int64_t s = 0; s < count; ++s) {
      const KVAppendSeq& sq = seqs[s];
      const KVLayerView& kv = sq.kv;
      for (int64_t t = 0; t < sq.n; ++t) {
        const int64_t pos = sq.pos0 + t;
        uint8_t* row = kv.blocks[pos / kv.block] + (pos % kv.block) * kv.row_bytes;
        for (int64_t g = 0; g < kv_heads; ++g) {
          const int64_t src = (t * kv_heads + g) * head_dim;
          kv_encode_row(kv.type, sq.k + src, head_dim, row + kv.k_offset + g * kv.head_stride);
          kv_encode_row(kv.type, sq.v + src, head_dim, row + kv.v_offset + g * kv.head_stride);
        }
      }
    }
  }

  // One task = one token of one sequence and one kv head: all query heads of
  // that kv head go through the visible positions block by block with an
  // online softmax (running max and sum per head, rescaled once per block), so
  // no score row of the whole context is ever stored.
  void attention(const AttentionSeq* seqs, int64_t count, const AttentionParams& p) override {
    const int64_t group = p.heads / p.kv_heads, d = p.head_dim;
    int64_t tasks = 0, work = 0, max_block = 0;
    task_start_.resize(static_cast<size_t>(count + 1));
    for (int64_t s = 0; s < count; ++s) {
      task_start_[s] = tasks;
      tasks += seqs[s].n * p.kv_heads;
      work += seqs[s].n * p.heads * (seqs[s].pos0 + seqs[s].n) * d;
      max_block = std::max(max_block, seqs[s].kv.block);
    }
    task_start_[count] = tasks;
    reserve_scratch(group * (d + max_block + 2) + d);
    const auto& k = kernels::active();
    const int64_t grain = work < kMinParallelAttention ? tasks : 1;
    pool_.parallel_for(tasks, grain, [&](int th, int64_t b, int64_t e) {
      float* acc = scratch_[th].data();          // [group][d]: running Σ w·v
      float* scores = acc + group * d;           // [group][block]
      float* mx = scores + group * max_block;    // [group]: running max
      float* sum = mx + group;                   // [group]: running Σ w
      float* widened = sum + group;              // [d]: one value row in F32
      int64_t s = std::upper_bound(task_start_.begin(), task_start_.end(), b) - task_start_.begin() - 1;
      for (int64_t task = b; task < e; ++task) {
        while (task >= task_start_[s + 1]) ++s;
        const AttentionSeq& sq = seqs[s];
        const KVLayerView& kv = sq.kv;
        // All heads of the group over a block in one AVX-512 call (attention_kernels.hpp).
        const bool simd = simd_attention_ && (kv.type == KVType::f32 || kv.type == KVType::f16) &&
                          kernels::attn::fits(d);
        const int64_t local = task - task_start_[s], t = local / p.kv_heads, g = local % p.kv_heads;
        const int64_t pos = sq.pos0 + t, bs = kv.block;
        int64_t first = p.window > 0 ? std::max<int64_t>(0, pos - p.window + 1) : 0, last = pos;
        if (sq.seen) {  // an image's tokens: its whole range too (contiguous with the causal one)
          first = std::min(first, sq.seen[2 * t]);
          last = std::max(last, sq.seen[2 * t + 1] - 1);
        }
        const float* q = sq.q + (t * p.heads + g * group) * d;
        for (int64_t h = 0; h < group; ++h) {
          mx[h] = p.sinks ? p.sinks[g * group + h] : -INFINITY;
          sum[h] = p.sinks ? 1.0f : 0.0f;
        }
        std::fill(acc, acc + group * d, 0.0f);
        for (int64_t j0 = first; j0 <= last; j0 = (j0 / bs + 1) * bs) {
          const int64_t len = std::min(last + 1, (j0 / bs + 1) * bs) - j0;
          const uint8_t* base = kv.blocks[j0 / bs] + g * kv.head_stride + (j0 % bs) * kv.row_bytes;
          const uint8_t* keys = base + kv.k_offset;
          const uint8_t* values = base + kv.v_offset;
          // Scores of this block for every head of the group; rescale what was summed so far.
#if defined(__x86_64__)
          if (simd) kernels::attn::scores(keys, kv.row_bytes, kv.type == KVType::f16, len, q, group, d, scores, max_block);
#endif
          for (int64_t h = 0; h < group; ++h) {
            float* sc = scores + h * max_block;
            float m = mx[h];
            for (int64_t j = 0; j < len; ++j) {
              float v = (simd ? sc[j] : kv_dot(k, kv.type, keys + j * kv.row_bytes, q + h * d, d)) * p.scale;
              if (p.softcap > 0) v = p.softcap * std::tanh(v / p.softcap);
              sc[j] = v;
              m = std::max(m, v);
            }
            const float correction = std::exp(mx[h] - m);  // 0 while nothing was seen
            if (correction != 1.0f) {
              float* o = acc + h * d;
              for (int64_t c = 0; c < d; ++c) o[c] *= correction;
            }
            sum[h] *= correction;
            mx[h] = m;
            for (int64_t j = 0; j < len; ++j) sc[j] = std::exp(sc[j] - m);
          }
#if defined(__x86_64__)
          if (simd) {
            for (int64_t h = 0; h < group; ++h)
              for (int64_t j = 0; j < len; ++j) sum[h] += scores[h * max_block + j];
            kernels::attn::values(values, kv.row_bytes, kv.type == KVType::f16, len, scores, max_block, group, d, acc);
            continue;
          }
#endif
          // Values: each row widened once (when not F32) and added to every head of the group.
          for (int64_t j = 0; j < len; ++j) {
            const uint8_t* vrow = values + j * kv.row_bytes;
            const float* vf = reinterpret_cast<const float*>(vrow);
            if (kv.type != KVType::f32) {
              kv_decode_row(kv.type, vrow, d, widened);
              vf = widened;
            }
            for (int64_t h = 0; h < group; ++h) {
              const float w = scores[h * max_block + j];
              sum[h] += w;
              k.axpy(w, vf, acc + h * d, d);
            }
          }
        }
        for (int64_t h = 0; h < group; ++h) {
          float* out = sq.out + (t * p.heads + g * group + h) * d;
          const float inv = 1.0f / sum[h];
          for (int64_t c = 0; c < d; ++c) out[c] = acc[h * d + c] * inv;
        }
      }
    });
  }

  // q·k for one stored key row.
  static float kv_dot(const kernels::KernelTable& k, KVType type, const uint8_t* row, const float* q, int64_t d) {
    if (type == KVType::f32) return k.dot_f32(reinterpret_cast<const float*>(row), q, d);
    if (type == KVType::f16) return k.dot_f16(reinterpret_cast<const uint16_t*>(row), q, d);
    const int64_t groups = (d + kKVQ8Group - 1) / kKVQ8Group;
    const auto* codes = reinterpret_cast<const int8_t*>(row + 4 * groups);
    float total = 0;
    for (int64_t g = 0; g < groups; ++g) {
      float scale, part = 0;
      std::memcpy(&scale, row + 4 * g, 4);
      const int64_t a = g * kKVQ8Group, b = std::min(d, a + kKVQ8Group);
      for (int64_t i = a; i < b; ++i) part += static_cast<float>(codes[i]) * q[i];
      total += scale * part;
    }
    return total;
  }

  void gated_activation(const float* gate, const float* up, int64_t count, Activation act, float* out,
                        float limit) override {
    if (act == Activation::silu) {
      for (int64_t i = 0; i < count; ++i) out[i] = gate[i] / (1.0f + std::exp(-gate[i])) * up[i];
    } else if (act == Activation::swiglu_clamped) {
      constexpr float kAlpha = 1.702f;  // gpt-oss's fixed sigmoid sharpness
      for (int64_t i = 0; i < count; ++i) {
        const float g = std::min(gate[i], limit);
        const float u = std::clamp(up[i], -limit, limit);
        out[i] = g / (1.0f + std::exp(-kAlpha * g)) * (u + 1.0f);
      }
    } else {
      constexpr float kSqrt2OverPi = 0.7978845608028654f;
      for (int64_t i = 0; i < count; ++i) {
        const float g = gate[i];
        out[i] = 0.5f * g * (1.0f + std::tanh(kSqrt2OverPi * (g + 0.044715f * g * g * g))) * up[i];
      }
    }
  }

  void add(float* y, const float* x, int64_t count) override {
    for (int64_t i = 0; i < count; ++i) y[i] += x[i];
  }

  void softcap(float* x, int64_t count, float cap) override {
    for (int64_t i = 0; i < count; ++i) x[i] = cap * std::tanh(x[i] / cap);
  }

  void scale(float* x, int64_t count, float factor) override {
    for (int64_t i = 0; i < count; ++i) x[i] *= factor;
  }

  void gather_rows(const float* src, const int32_t* rows, int64_t count, int64_t dim, float* out) override {
    for (int64_t i = 0; i < count; ++i) std::copy_n(src + rows[i] * dim, dim, out + i * dim);
  }

  void moe_route(const float* logits, int64_t n, int64_t experts, int64_t top_k, bool renormalize, int32_t* chosen,
                 float* weights) override {
    probs_.resize(static_cast<size_t>(experts));
    float* r = probs_.data();
    for (int64_t t = 0; t < n; ++t) {
      const float* l = logits + t * experts;
      const float mx = *std::max_element(l, l + experts);
      double sum = 0;
      for (int64_t e = 0; e < experts; ++e) sum += (r[e] = std::exp(l[e] - mx));
      for (int64_t e = 0; e < experts; ++e) r[e] = static_cast<float>(r[e] / sum);
      int32_t* c = chosen + t * top_k;
      float* w = weights + t * top_k;
      float picked = 0;
      for (int64_t j = 0; j < top_k; ++j) {
        int64_t best = -1;
        for (int64_t e = 0; e < experts; ++e) {
          bool taken = false;
          for (int64_t q = 0; q < j; ++q) taken |= c[q] == e;
          if (!taken && (best < 0 || r[e] > r[best])) best = e;
        }
        c[j] = static_cast<int32_t>(best);
        w[j] = r[best];
        picked += r[best];
      }
      if (renormalize)
        for (int64_t j = 0; j < top_k; ++j) w[j] /= picked;
    }
  }

  void moe_combine(const float* src, const int32_t* slots, int64_t count, int64_t dim, int64_t top_k,
                   const float* weights, float* out) override {
    for (int64_t i = 0; i < count; ++i) {
      float* dst = out + (slots[i] / top_k) * dim;
      const float w = weights[slots[i]];
      const float* row = src + i * dim;
      for (int64_t c = 0; c < dim; ++c) dst[c] += w * row[c];
    }
  }

 private:
  // Rows [r0, r1) of y = W x for n tokens (y row stride = W's rows).
  void rows(const Tensor& w, const WeightFormat& fmt, int64_t r0, int64_t r1, const float* x, int64_t n, float* y,
            int thread) {
    if (n == 1) return fmt.dot_rows(w, r0, r1, x, y + r0);
    const int64_t in = w.cols(), out = w.rows();
    const auto& k = kernels::active();
    for (int64_t t0 = r0; t0 < r1; t0 += kTileRows) {
      const int64_t t1 = std::min(r1, t0 + kTileRows);
      const float* tile;
      if (w.dtype == DType::F32) {
        tile = static_cast<const float*>(w.data) + t0 * in;
      } else {  // dequantise once, reuse for every token
        fmt.dequant_rows(w, t0, t1, scratch_[thread].data());
        tile = scratch_[thread].data();
      }
      k.gemm_f32(tile, t1 - t0, x, n, in, y + t0, out);
    }
  }

  static constexpr int kMaxGroup = 8;

  // Runs each distinct `prepare` of the jobs' formats once over x and points
  // prepared[j] at its result; null for jobs whose format has no batched path.
  // Returns true when every job has one.
  bool prepare_inputs(const WeightFormat* const* fmt, int count, const float* x, int64_t n, int64_t in,
                      const void** prepared) {
    size_t offset[kMaxGroup] = {};
    int owner[kMaxGroup];  // the job whose buffer job j reads, or -1
    bool all = true;
    const size_t bytes = prepared_size(fmt, count, n, in, offset, owner, all);
    if (bytes == 0) return false;
    if (prepared_.size() < bytes) prepared_.resize(bytes);
    for (int j = 0; j < count; ++j) {
      if (owner[j] < 0) continue;
      if (owner[j] == j) fmt[j]->prepare(x, n, in, prepared_.data() + offset[j]);
      prepared[j] = prepared_.data() + offset[owner[j]];
    }
    return all;
  }

  // Bytes of prepared_ that the jobs' batched formats need for n rows (one
  // buffer per distinct `prepare`): offset[j] is job j's buffer and owner[j]
  // the job whose buffer it reads (-1: no batched path). `all` is cleared
  // when some job has no batched path.
  static size_t prepared_size(const WeightFormat* const* fmt, int count, int64_t n, int64_t in, size_t* offset,
                              int* owner, bool& all) {
    size_t bytes = 0;
    for (int j = 0; j < count; ++j) {
      owner[j] = -1;
      if (!fmt[j]->matmul) {
        all = false;
        continue;
      }
      owner[j] = j;
      for (int i = 0; i < j; ++i)
        if (owner[i] >= 0 && fmt[i]->prepare == fmt[j]->prepare) {
          owner[j] = owner[i];
          break;
        }
      if (owner[j] == j) {
        offset[j] = bytes;
        bytes += (fmt[j]->prepared_bytes(n, in) + 63) / 64 * 64;
      }
    }
    return bytes;
  }

  // Per-thread scratch of at least `floats` floats (grows, never shrinks).
  void reserve_scratch(int64_t floats) {
    for (auto& s : scratch_)
      if (static_cast<int64_t>(s.size()) < floats) s.resize(static_cast<size_t>(floats));
  }

  ThreadPool pool_;
  std::vector<std::vector<float>> scratch_;
  std::vector<uint8_t> prepared_;  // activations converted for batched formats
  std::vector<int64_t> task_start_;  // attention: first task of each sequence
  // attention_kernels.hpp (x86-64 with the AVX-512 table; ALLM_ISA can turn it off).
#if defined(__x86_64__)
  const bool simd_attention_ = std::strcmp(kernels::active().name, "avx512") == 0;
#else
  static constexpr bool simd_attention_ = false;
#endif
  std::vector<float> probs_;         // moe_route: one token's expert probabilities
};

}  // namespace

std::shared_ptr<Backend> make_cpu_backend(int threads) { return std::make_shared<CpuBackend>(threads); }

std::shared_ptr<Backend> host_backend() {
  static const std::shared_ptr<Backend> backend = make_cpu_backend(1);
  return backend;
}

const char* cpu_kernel_name() { return kernels::active().name; }

std::vector<float> to_f32(const Tensor& t) {
  std::vector<float> out(static_cast<size_t>(t.numel()));
  Tensor view = t;
  if (view.shape.size() != 2) view.shape = {1, t.numel()};
  weight_format_of(view).dequant_rows(view, 0, view.shape[0], out.data());
  return out;
}

}  // namespace allm
