#pragma once
// The compute layer architectures build on. Every op goes through a Backend
// object (the CPU one here; a GPU backend plugin implements the same
// interface), activations are F32 row-major [tokens, features], and weights
// stay in their stored format (see weight_format.hpp) or whatever layout the
// backend made them resident in.
//
// Backend memory: every pointer an op reads or writes (activations, scratch,
// KV blocks, token ids, positions, rope tables, norm weights, biases, sinks)
// points into memory the backend allocated (alloc), filled by upload or by
// ops and read back by download. The host never dereferences it: for a GPU
// backend it is device memory. Descriptors (LinearJob, AttentionSeq,
// KVAppendSeq, a KVLayerView's block table, RopeConfig) are host structs
// holding backend pointers; a backend copies what it needs of them before
// the op returns. docs/engine.md has the whole contract.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
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

// Rotary position embedding settings of one layer kind (a host descriptor).
struct RopeConfig {
  int64_t rotary_dim = 0;      // leading dims of each head that rotate (partial rotary)
  bool interleaved = false;    // pairs (2i, 2i+1) (GPT-J/GGUF) instead of (i, i+d/2) (NeoX/HF)
  std::vector<float> inv_freq; // rotary_dim/2 frequencies, scaling already applied
  float attention_scale = 1;   // multiplies cos/sin (YaRN's attention factor; 1 otherwise)
  // Multimodal rope (M-RoPE, Qwen2-VL's rope_scaling.mrope_section): a token
  // has sections.size() position components (time, height, width), and the
  // first sections[0] frequencies turn by component 0, the next sections[1]
  // by component 1, ... (the counts sum to rotary_dim / 2). Empty: one
  // position per token. Text tokens have all components equal. The decoder
  // runs such a rope as one ordinary rope per component (frequencies of the
  // other components zeroed): a backend's rope_table/rope never see sections.
  std::vector<int64_t> sections;
};

// One layer's keys and values of one sequence, stored in blocks of `block`
// positions (a KVPool's layout): block i holds positions [i*block, (i+1)*block),
// and the key row of kv head g at position p starts at byte
// blocks[p / block] + k_offset + g * head_stride + (p % block) * row_bytes
// (values: v_offset); rows are head_dim values of `type` (kv_format.hpp).
// `blocks` is a host array of block addresses in backend memory.
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
  // attend to each other both ways. Null: causal (and windowed) only. A host
  // array, like kv.blocks (a device backend uploads it with the block table).
  const int64_t* seen = nullptr;
};

// One sequence's new keys and values ([n][kv_heads][head_dim] each), to be
// stored at positions pos0 .. pos0 + n - 1 of its cache layer `kv`.
struct KVAppendSeq {
  const float* k = nullptr;
  const float* v = nullptr;
  int64_t n = 0, pos0 = 0;
  KVLayerView kv;
};

class Backend {
 public:
  virtual ~Backend() = default;
  virtual const char* name() const = 0;
  virtual int threads() const = 0;

  // ---- memory ---------------------------------------------------------------
  // `bytes` of backend memory, 64-byte aligned, contents undefined;
  // OutOfMemoryError when the backend cannot supply them. alloc/free may be
  // called from any thread; every other call of a backend comes from one
  // thread at a time.
  virtual void* alloc(size_t bytes) = 0;
  virtual void free(void* p) noexcept = 0;
  // Host <-> backend copies, complete when they return (ordered after every
  // op issued before them).
  virtual void upload(void* dst, const void* host_src, size_t bytes) = 0;
  virtual void download(void* host_dst, const void* src, size_t bytes) = 0;
  // Within backend memory.
  virtual void copy(void* dst, const void* src, size_t bytes) = 0;
  virtual void zero(void* dst, size_t bytes) = 0;
  // Backends with the same domain can use each other's memory ("host" for
  // the CPU backend; a GPU backend names its device). A KV pool made for one
  // domain cannot serve a model running in another.
  virtual std::string memory_domain() const = 0;

  // ---- weights, once at model load ------------------------------------------
  // A weight matrix (or embedding table) made resident: the returned Tensor
  // is what the model passes to linear/linear_group/embedding from then on;
  // its shape and dtype are the input's, its pointers are the backend's (any
  // layout it likes; the host never reads them). The CPU backend returns `w`
  // itself (GGUF blocks were already interleaved at load). Memory stays until
  // release_resident(returned tensor).
  virtual Tensor make_resident(const Tensor& w) = 0;
  virtual void release_resident(const Tensor& resident) noexcept = 0;

  // ---- ops (all pointers: backend memory) -----------------------------------
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
  // table[t] = cos(positions[t] * f_i) * scale for the rope.rotary_dim/2
  // frequencies f_i, then the sines likewise: n rows of rotary_dim floats.
  // Angles are F32 products of the position and the frequency (the reference's rounding).
  virtual void rope_table(const RopeConfig& rope, const int64_t* positions, int64_t n, float* table) = 0;
  // Rotates the first rope.rotary_dim dims of each head in place; x is
  // [n][heads][head_dim], table is rope_table's for the same n tokens.
  virtual void rope(float* x, int64_t n, int64_t heads, int64_t head_dim, const RopeConfig& rope,
                    const float* table) = 0;
  // Encodes each sequence's new key and value rows into its blocks (the
  // blocks are the sequence's own: shared ones were copied before).
  virtual void kv_append(const KVAppendSeq* seqs, int64_t count, int64_t kv_heads, int64_t head_dim) = 0;
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
  // out[i] = src[rows[i]] for i < count; rows of `dim` floats.
  virtual void gather_rows(const float* src, const int32_t* rows, int64_t count, int64_t dim, float* out) = 0;
  // Mixture-of-experts routing of n tokens: softmax over each row of
  // logits ([n][experts]), the top_k experts by probability (ties: the lower
  // index; chosen[t*top_k + j] in decreasing order), their probabilities in
  // weights[t*top_k + j], divided by their sum when `renormalize`.
  virtual void moe_route(const float* logits, int64_t n, int64_t experts, int64_t top_k, bool renormalize,
                         int32_t* chosen, float* weights) = 0;
  // Adds one expert's outputs into the tokens that chose it: for i < count,
  // with slot s = slots[i] (an index into moe_route's tables),
  // out[s / top_k] += weights[s] * src[i], in order of i.
  virtual void moe_combine(const float* src, const int32_t* slots, int64_t count, int64_t dim, int64_t top_k,
                           const float* weights, float* out) = 0;
};

// A backend whose ops keep scratch memory that grows with a call's rows (the
// CPU backend: activations converted once per matmul for the batched weight
// formats, per-thread dequantised weight tiles) implements this beside
// Backend, so a model can size and touch it ahead of use
// (ForwardScratch::reserve_scratch). Reached with a dynamic_cast: Backend's
// layout is unchanged, and a backend without scratch of that kind has nothing
// to implement.
class BackendScratch {
 public:
  // Scratch for linear_group(jobs, count, x, n) calls over these weights with
  // up to `n` rows (the outputs `y` are not touched), allocated and touched.
  virtual void reserve_linear(const Backend::LinearJob* jobs, int count, int64_t n) = 0;

 protected:
  ~BackendScratch() = default;
};

// A backend with memory of its own (a GPU's) says how much of it is free, so
// that a model whose weights cannot fit there is refused before any is
// uploaded, with the --gpu-layers that would fit (the decoder asks). Reached
// with a dynamic_cast, like BackendScratch.
class BackendDeviceMemory {
 public:
  struct Info {
    uint64_t free_bytes = 0, total_bytes = 0;
  };
  virtual Info device_memory() const = 0;

 protected:
  ~BackendDeviceMemory() = default;
};

// Host memory that the backend's download() writes fastest: a GPU backend's
// page-locked memory, which its copy engine fills at the link's full rate
// (into pageable memory the driver stages the bytes at a fraction of it). The
// decoder hands it out for forward's logits (allm/model.hpp, OutputMemory).
// Reached with a dynamic_cast, like BackendScratch.
class BackendHostMemory {
 public:
  // OutOfMemoryError when the backend cannot supply `bytes`.
  virtual void* alloc_host(size_t bytes) = 0;
  virtual void free_host(void* p) noexcept = 0;

 protected:
  ~BackendHostMemory() = default;
};

// Backend memory owned by one object, freed through its backend.
class BackendBuffer {
 public:
  BackendBuffer() = default;
  BackendBuffer(Backend& backend, size_t bytes) : backend_(&backend), bytes_(bytes) {
    if (bytes) data_ = backend.alloc(bytes);
  }
  ~BackendBuffer() { reset(); }
  BackendBuffer(BackendBuffer&& o) noexcept
      : backend_(o.backend_), data_(std::exchange(o.data_, nullptr)), bytes_(std::exchange(o.bytes_, 0)) {}
  BackendBuffer& operator=(BackendBuffer&& o) noexcept {
    if (this != &o) {
      reset();
      backend_ = o.backend_;
      data_ = std::exchange(o.data_, nullptr);
      bytes_ = std::exchange(o.bytes_, 0);
    }
    return *this;
  }
  BackendBuffer(const BackendBuffer&) = delete;
  BackendBuffer& operator=(const BackendBuffer&) = delete;

  void* data() const noexcept { return data_; }
  size_t size() const noexcept { return bytes_; }
  // The buffer's address plus `byte_offset`, typed (backend memory: never dereferenced by the host).
  template <class T>
  T* at(size_t byte_offset) const noexcept {
    return reinterpret_cast<T*>(static_cast<uint8_t*>(data_) + byte_offset);
  }
  void reset() noexcept {
    if (data_) backend_->free(data_);
    data_ = nullptr;
    bytes_ = 0;
  }

 private:
  Backend* backend_ = nullptr;
  void* data_ = nullptr;
  size_t bytes_ = 0;
};

// The CPU backend: SIMD kernels picked by CPUID, a persistent thread pool of
// `threads` threads (0: physical cores); its memory is host memory.
std::shared_ptr<Backend> make_cpu_backend(int threads = 0);
// A process-wide CPU backend of one thread: host memory for KV pools made
// without a backend.
std::shared_ptr<Backend> host_backend();

// Name of the SIMD kernel table in use ("avx512", "avx2", "neon", "scalar").
const char* cpu_kernel_name();

// Widens a (small) host tensor such as a norm weight or bias to F32.
std::vector<float> to_f32(const Tensor& t);

}  // namespace allm
