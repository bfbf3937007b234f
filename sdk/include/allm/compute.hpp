#pragma once
// The compute layer architectures build on. Every op goes through a Backend
// object (the CPU one here; a GPU backend would implement the same interface),
// activations are F32 row-major [tokens, features], and weights stay in their
// stored format (see weight_format.hpp).
#include <cstdint>
#include <memory>
#include <vector>

#include "allm/kv_format.hpp"
#include "allm/tensor.hpp"

namespace allm {

class ThreadPool;

// The gated MLP's activation, out = f(gate, up):
//  silu:          silu(gate) * up
//  gelu_tanh:     gelu_tanh(gate) * up
//  swiglu_clamped (gpt-oss): gate clamped above at `limit`, up to [-limit, limit],
//                 gate * sigmoid(1.702 * gate) * (up + 1)
enum class Activation { silu, gelu_tanh, swiglu_clamped };

// Rotary position embedding settings of one layer kind.
struct RopeConfig {
  int64_t rotary_dim = 0;      // leading dims of each head that rotate (partial rotary)
  bool interleaved = false;    // pairs (2i, 2i+1) (GPT-J/GGUF) instead of (i, i+d/2) (NeoX/HF)
  std::vector<float> inv_freq; // rotary_dim/2 frequencies, scaling already applied
  float attention_scale = 1;   // multiplies cos/sin (YaRN's attention factor; 1 otherwise)
  // Multimodal rope (M-RoPE, Qwen2-VL's rope_scaling.mrope_section): a token
  // has sections.size() position components (time, height, width), and the
  // first sections[0] frequencies turn by component 0, the next sections[1]
  // by component 1, ... (the counts sum to rotary_dim / 2). Empty: one
  // position per token. Text tokens have all components equal.
  std::vector<int64_t> sections;
};

// cos/sin of every (token, frequency) of one forward call.
struct RopeTable {
  int64_t tokens = 0, half = 0;
  std::vector<float> cos, sin;  // [tokens][half]
};

// One layer's keys and values of one sequence, stored in blocks of `block`
// positions (a KVPool's layout): block i holds positions [i*block, (i+1)*block),
// and the key row of kv head g at position p starts at byte
// blocks[p / block] + k_offset + g * head_stride + (p % block) * row_bytes
// (values: v_offset); rows are head_dim values of `type` (kv_format.hpp).
struct KVLayerView {
  uint8_t* const* blocks = nullptr;
  int64_t k_offset = 0, v_offset = 0;
  int64_t block = 0, head_stride = 0, row_bytes = 0;
  KVType type = KVType::f32;
};

struct AttentionParams {
  int64_t heads = 0, kv_heads = 0, head_dim = 0;
  float scale = 1;        // multiplies q·k
  float softcap = 0;      // 0: none, else cap * tanh(s / cap)
  int64_t window = 0;     // 0: full causal, else keys in (pos - window, pos]
  const float* sinks = nullptr;  // per query head: a learned logit in every softmax (gpt-oss), or null
};

// The queries of one sequence's new tokens (positions pos0 .. pos0 + n - 1,
// already in its cache) and where their outputs go; q and out are
// [n][heads][head_dim].
struct AttentionSeq {
  const float* q = nullptr;
  float* out = nullptr;
  int64_t n = 0, pos0 = 0;
  KVLayerView kv;
  // Optional, [n][2]: token t also sees the positions [seen[2t], seen[2t+1])
  // (already in the cache), before or after its own: the tokens of one image
  // attend to each other both ways. Null: causal (and windowed) only.
  const int64_t* seen = nullptr;
};

class Backend {
 public:
  virtual ~Backend() = default;
  virtual const char* name() const = 0;
  virtual int threads() const = 0;

  // y[t] = W x[t] (+ bias) for t < n; W is [out, in] in any registered format.
  virtual void linear(const Tensor& w, const float* x, int64_t n, float* y, const float* bias = nullptr) = 0;
  // Several products of the same input in one parallel pass (q/k/v, gate/up):
  // jobs[j].y[t] = jobs[j].w x[t] (+ bias). Fewer synchronisations per token.
  struct LinearJob {
    const Tensor* w;
    float* y;
    const float* bias = nullptr;
  };
  virtual void linear_group(const LinearJob* jobs, int count, const float* x, int64_t n) = 0;
  // out[t] = row ids[t] of the table, widened to F32 (times `scale`).
  virtual void embedding(const Tensor& table, const int32_t* ids, int64_t n, float* out, float scale = 1) = 0;
  // out[t] = x[t] / rms(x[t]) * (w or 1 + w); x and out may alias.
  virtual void rms_norm(const float* x, const float* w, int64_t n, int64_t dim, float eps, bool plus_one,
                        float* out) = 0;
  // Rotates the first rope.rotary_dim dims of each head in place; x is [n][heads][head_dim].
  virtual void rope(float* x, int64_t n, int64_t heads, int64_t head_dim, const RopeConfig& rope,
                    const RopeTable& table) = 0;
  // For every sequence s and token t: out = softmax(q K^T * scale) V over the
  // cached positions of s visible to position pos0 + t (causal, windowed,
  // plus the range AttentionSeq::seen adds).
  virtual void attention(const AttentionSeq* seqs, int64_t count, const AttentionParams& p) = 0;
  // out = act(gate, up), elementwise over count values (see Activation);
  // `limit` is swiglu_clamped's clamp (ignored by the others).
  virtual void gated_activation(const float* gate, const float* up, int64_t count, Activation act, float* out,
                                float limit = 0) = 0;
  // y += x
  virtual void add(float* y, const float* x, int64_t count) = 0;
  // x = cap * tanh(x / cap)
  virtual void softcap(float* x, int64_t count, float cap) = 0;
  // x *= factor (Granite's residual and logits multipliers)
  virtual void scale(float* x, int64_t count, float factor) = 0;
};

// The CPU backend: SIMD kernels picked by CPUID, a persistent thread pool of
// `threads` threads (0: physical cores).
std::shared_ptr<Backend> make_cpu_backend(int threads = 0);

// Name of the SIMD kernel table in use ("avx512", "avx2", "neon", "scalar").
const char* cpu_kernel_name();

// Fills `table` for positions [pos0, pos0 + n). Reuses its storage.
void compute_rope_table(const RopeConfig& rope, int64_t pos0, int64_t n, RopeTable& table);
// Fills `table` for the n positions listed (tokens of several sequences).
void compute_rope_table(const RopeConfig& rope, const int64_t* positions, int64_t n, RopeTable& table);

// Widens a (small) tensor such as a norm weight or bias to F32.
std::vector<float> to_f32(const Tensor& t);

}  // namespace allm
