// allm::Backend on a CUDA device. Backend memory is device memory; weights
// are uploaded once by make_resident in their stored block layout (the CPU's
// interleaved GGUF panels restored first; MLX scales/biases widened to F32);
// every op enqueues kernels on one stream, so host code only waits at
// download (and large uploads). Small per-call data (KV block addresses,
// positions, rope frequencies, small uploads such as token ids) go through a
// pinned staging ring.
//
// CUDA graphs: the ops between two waits of the host (a "segment": for a
// decode step, everything from the token ids' upload to the logits'
// download) are recorded, each launch with the bytes of its arguments, and
// run when the host waits. A segment whose launches and arguments equal the
// previous one's is captured as a CUDA graph; from then on an equal segment
// replays that graph (one launch instead of hundreds). What changes from
// token to token reaches the kernels through device memory instead of
// arguments: staged tables at ring offsets that repeat from segment to
// segment (the ring restarts at every wait), copied to the device before the
// segment runs, and the positions of attention / KV append read from there.
#include "cuda_backend.hpp"

#include <cxxabi.h>

#include <cstdio>
#include <cstdlib>
#include <algorithm>
#include <map>
#include <typeinfo>
#include <cstring>
#include <mutex>
#include <type_traits>
#include <functional>
#include <string>
#include <unordered_map>
#include <vector>

#include <cuda_runtime_api.h>

#include "allm/error.hpp"
#include "allm/weight_format.hpp"
#include "kernels.hpp"
#include "split_blocks.hpp"
#include "stored_layout.hpp"

namespace allm::cuda {
namespace {

// The kernels' formats by stored dtype (after restoring interleaved panels).
bool format_of(DType t, WFormat& f) {
  switch (t) {
    case DType::F32: f = WFormat::f32; return true;
    case DType::F16: f = WFormat::f16; return true;
    case DType::BF16: f = WFormat::bf16; return true;
    case DType::MLX_AFFINE: f = WFormat::mlx; return true;
    case DType::Q4_0: f = WFormat::q4_0; return true;
    case DType::Q4_1: f = WFormat::q4_1; return true;
    case DType::Q5_0: f = WFormat::q5_0; return true;
    case DType::Q5_1: f = WFormat::q5_1; return true;
    case DType::Q8_0: f = WFormat::q8_0; return true;
    case DType::Q2_K: f = WFormat::q2_k; return true;
    case DType::Q3_K: f = WFormat::q3_k; return true;
    case DType::Q4_K: f = WFormat::q4_k; return true;
    case DType::Q5_K: f = WFormat::q5_k; return true;
    case DType::Q6_K: f = WFormat::q6_k; return true;
    case DType::MXFP4: f = WFormat::mxfp4; return true;
    default: return false;
  }
}

std::vector<float> widen(const void* p, DType t, int64_t n) {
  std::vector<float> out(static_cast<size_t>(n));
  Tensor v;
  v.dtype = t;
  v.shape = {1, n};
  v.data = p;
  weight_format_of(v).dequant_rows(v, 0, 1, out.data());
  return out;
}

class CudaBackend final : public Backend, public BackendDeviceMemory, public BackendHostMemory {
 public:
  explicit CudaBackend(int device) : device_(device) {
    check(cudaSetDevice(device), "cudaSetDevice");
    check(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking), "cudaStreamCreate");
    check(cudaMallocHost(reinterpret_cast<void**>(&ring_host_), kRingBytes), "cudaMallocHost");
    check(cudaMalloc(reinterpret_cast<void**>(&ring_dev_), kRingBytes), "cudaMalloc");
    cudaDeviceProp prop{};
    check(cudaGetDeviceProperties(&prop, device), "cudaGetDeviceProperties");
    domain_ = "cuda:" + std::to_string(device) + " (" + prop.name + ")";
    // ALLM_CUDA_GEMV=classic: decode through the first GEMV (decode_slice, F32) for every format (measurements).
    const char* gemv = std::getenv("ALLM_CUDA_GEMV");
    int8_ = !(gemv && std::strcmp(gemv, "classic") == 0);
    // ALLM_CUDA_MMQ=0: matmuls of several tokens through the GEMVs and
    // cuBLAS (or the tiled GEMM) for every format, as before gemm_int8 (measurements).
    const char* mmq = std::getenv("ALLM_CUDA_MMQ");
    mmq_ = int8_ && !(mmq && std::strcmp(mmq, "0") == 0);
    // ALLM_CUDA_MMQ_MIN / _MAX=N: the token counts gemm_int8 takes (measurements).
    if (const char* min = std::getenv("ALLM_CUDA_MMQ_MIN")) mmq_min_tokens_ = std::max<int64_t>(1, std::atoll(min));
    if (const char* max = std::getenv("ALLM_CUDA_MMQ_MAX")) mmq_max_tokens_ = std::max<int64_t>(1, std::atoll(max));
    // ALLM_CUDA_FUSE=0: rms_norm and gated_activation leave the int8 codes of
    // their output to a separate quantize_q8 (measurements).
    const char* fuse = std::getenv("ALLM_CUDA_FUSE");
    fuse_codes_ = !(fuse && std::strcmp(fuse, "0") == 0);
    // ALLM_CUDA_GRAPH=0: every op launched when it is called (measurements).
    const char* graphs = std::getenv("ALLM_CUDA_GRAPH");
    graphs_ = !(graphs && std::strcmp(graphs, "0") == 0);
    // ALLM_CUDA_PROFILE=1: every op launched alone and timed with events; a
    // table of GPU time by op (and, for matmuls, by weight format, shape and
    // token count) printed to stderr when the backend is destroyed. No graphs.
    const char* profile = std::getenv("ALLM_CUDA_PROFILE");
    profile_ = profile && std::strcmp(profile, "1") == 0;
    if (profile_) graphs_ = false;
    // Prefill through cuBLAS unless ALLM_CUDA_GEMM=tiled (the backend's own
    // TF32 GEMM, for measurements) or no cuBLAS can be opened here (then the
    // tiled GEMM too). ALLM_CUDA_GEMM_MIN=N: every matmul of N or more tokens
    // through cuBLAS (measurements; by default the bytes decide, below).
    const char* gemm = std::getenv("ALLM_CUDA_GEMM");
    if (!(gemm && std::strcmp(gemm, "tiled") == 0)) open_cublas();
    if (const char* min = std::getenv("ALLM_CUDA_GEMM_MIN")) gemm_min_tokens_ = std::atoll(min);
  }
  ~CudaBackend() override {
    try {
      flush();
    } catch (...) {
    }
    cudaStreamSynchronize(stream_);
    if (profile_) print_profile();
    for (auto& g : graphs_cache_) cudaGraphExecDestroy(g.exec);
    for (auto& [p, r] : resident_) release(r);
    cudaFree(ring_dev_);
    cudaFreeHost(ring_host_);
    cudaFree(act_q_);
    cudaFree(mmq_partials_);
    if (gemm_.handle) gemm_.lib->destroy(gemm_.handle);
    cudaFree(cublas_workspace_);
    cudaFree(gemm_.tile);
    cudaFree(gemm_.activations);
    cudaStreamDestroy(stream_);
  }

  const char* name() const override { return "cuda"; }
  int threads() const override { return 1; }

  // ---- memory
  void* alloc(size_t bytes) override {
    std::lock_guard ops(ops_mutex_);  // never inside another thread's capture
    std::lock_guard lock(alloc_mutex_);
    check(cudaSetDevice(device_), "cudaSetDevice");
    void* p = nullptr;
    const cudaError_t e = cudaMalloc(&p, bytes ? bytes : 1);
    if (e == cudaErrorMemoryAllocation) {
      cudaGetLastError();  // clear it
      size_t free_bytes = 0, total = 0;
      cudaMemGetInfo(&free_bytes, &total);
      throw OutOfMemoryError("CUDA backend: cannot allocate " + std::to_string(bytes) + " bytes on " + domain_ + " (" +
                             std::to_string(free_bytes >> 20) + " MiB free of " + std::to_string(total >> 20) + ")");
    }
    check(e, "cudaMalloc");
    return p;
  }
  void free(void* p) noexcept override {
    if (!p) return;
    std::lock_guard ops(ops_mutex_);
    try {
      flush();  // recorded ops may still use it
    } catch (...) {
    }
    cudaFree(p);
  }
  // Small uploads (token ids, positions) are staged and copied in stream
  // order: the host's buffer is free when this returns, nothing waits.
  void upload(void* dst, const void* src, size_t bytes) override {
    if (bytes == 0) return;
    std::lock_guard ops(ops_mutex_);
    if (bytes <= kStagedUpload) {
      const uint8_t* staged = stage_as<uint8_t>(src, bytes);
      enqueue([](cudaStream_t s, void* d, const uint8_t* from, size_t n) {
        check(cudaMemcpyAsync(d, from, n, cudaMemcpyDeviceToDevice, s), "upload");
      }, dst, staged, bytes);
      return;
    }
    flush();
    codes_ = {};
    check(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, stream_), "upload");
    sync();
  }
  void download(void* dst, const void* src, size_t bytes) override {
    if (bytes == 0) return;
    std::lock_guard ops(ops_mutex_);
    flush();
    check(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToHost, stream_), "download");
    sync();
  }
  void copy(void* dst, const void* src, size_t bytes) override {
    if (bytes)
      enqueue([](cudaStream_t s, void* d, const void* from, size_t n) {
        check(cudaMemcpyAsync(d, from, n, cudaMemcpyDeviceToDevice, s), "copy");
      }, dst, src, bytes);
  }
  void zero(void* dst, size_t bytes) override {
    if (bytes)
      enqueue([](cudaStream_t s, void* d, size_t n) { check(cudaMemsetAsync(d, 0, n, s), "zero"); }, dst, bytes);
  }
  std::string memory_domain() const override { return domain_; }
  // Page-locked host memory: a download() into it is one DMA at the link's
  // rate (H100 machine, 32 rows of 128k logits: 0.31 ms against 1.63 ms into
  // pageable memory, cuda_kernel_bench).
  void* alloc_host(size_t bytes) override {
    check(cudaSetDevice(device_), "cudaSetDevice");
    void* p = nullptr;
    const cudaError_t e = cudaMallocHost(&p, bytes ? bytes : 1);
    if (e != cudaSuccess) {
      cudaGetLastError();
      throw OutOfMemoryError("CUDA backend: cannot allocate " + std::to_string(bytes) +
                             " bytes of page-locked host memory (" + cudaGetErrorString(e) + ")");
    }
    return p;
  }
  void free_host(void* p) noexcept override {
    if (p) cudaFreeHost(p);
  }
  // The decoder's check before it uploads weights (and --gpu-layers' suggestion).
  Info device_memory() const override {
    size_t free_bytes = 0, total = 0;
    check(cudaSetDevice(device_), "cudaSetDevice");
    check(cudaMemGetInfo(&free_bytes, &total), "cudaMemGetInfo");
    return Info{free_bytes, total};
  }

  // ---- weights
  Tensor make_resident(const Tensor& w) override {
    if (w.shape.size() != 2) throw UnsupportedError("CUDA backend: tensor '" + w.name + "' is not a matrix");
    std::vector<uint8_t> restored;
    const void* bytes = w.data;
    DType stored = w.dtype;
    if (is_interleaved(w.dtype)) {
      restored = restore_stored_rows(w);
      bytes = restored.data();
      stored = stored_type(w.dtype);
    }
    Resident r;
    if (!format_of(stored, r.w.format))
      throw UnsupportedError("CUDA backend: tensor '" + w.name + "' has type " + dtype_name(w.dtype) +
                             ", which has no CUDA kernel");
    r.w.rows = w.rows();
    r.w.cols = w.cols();
    if (stored == DType::MLX_AFFINE) {
      if (w.cols() % kSlice != 0 || w.group_size <= 0 || w.cols() % w.group_size != 0 || w.bits < 1 || w.bits > 8)
        throw UnsupportedError("CUDA backend: MLX tensor '" + w.name + "' needs a row length that is a multiple of 32");
      r.w.row_bytes = w.cols() * w.bits / 8;
      r.w.bits = w.bits;
      r.w.group_size = w.group_size;
      const int64_t groups = w.rows() * (w.cols() / w.group_size);
      const auto scales = widen(w.scales, w.scale_dtype, groups);
      const auto biases = w.biases ? widen(w.biases, w.scale_dtype, groups) : std::vector<float>(size_t(groups), 0.0f);
      auto* s = static_cast<float*>(alloc(size_t(groups) * 2 * sizeof(float)));
      upload(s, scales.data(), size_t(groups) * sizeof(float));
      upload(s + groups, biases.data(), size_t(groups) * sizeof(float));
      r.w.scales = s;
      r.w.biases = s + groups;
      r.extra = s;
    } else {
      const auto elems = int64_t(dtype_block_elems(stored));
      if (w.cols() % elems != 0)
        throw InvalidArgumentError("CUDA backend: tensor '" + w.name + "' rows are not whole " + dtype_name(stored) +
                                   " blocks");
      r.w.row_bytes = w.cols() / elems * int64_t(dtype_block_bytes(stored));
    }
    const size_t total = size_t(r.w.rows * r.w.row_bytes);
    // Q8_0 / Q6_K rows that stay 16-byte aligned go to the int8 GEMV's split layout.
    std::vector<uint8_t> split;
    if (int8_ && r.w.row_bytes % 16 == 0) {
      if (r.w.format == WFormat::q8_0) {
        split = split_q8_0(static_cast<const uint8_t*>(bytes), r.w.rows, r.w.cols);
        r.w.format = WFormat::q8_0_split;
      } else if (r.w.format == WFormat::q6_k) {
        split = split_q6_k(static_cast<const uint8_t*>(bytes), r.w.rows, r.w.cols);
        r.w.format = WFormat::q6_k_split;
      }
      if (!split.empty()) bytes = split.data();
    }
    auto* dev = static_cast<uint8_t*>(alloc(total));
    upload(dev, bytes, total);
    r.w.data = dev;
    // Before any segment records: decode and prefills of up to kMmqTokens tokens never reallocate.
    if (int8_ && gemv_int8_supports(r.w)) reserve_activation_codes(mmq_ ? kMmqTokens : kGemvTokens, r.w.cols);
    // cuBLAS's F16 tile only for matrices that may go there (gemm_int8 takes the
    // others; ALLM_CUDA_MMQ_MIN above 9 would still grow it when first used).
    if (gemm_.handle && cublas_gemm_supports(r.w) && !(mmq_ && gemm_int8_supports(r.w))) reserve_gemm_scratch(r.w, 0);
    Tensor out = w;
    out.data = dev;
    out.scales = r.w.scales;
    out.biases = r.w.biases;
    std::lock_guard lock(alloc_mutex_);
    resident_[dev] = r;
    return out;
  }

  void release_resident(const Tensor& resident) noexcept override {
    std::lock_guard lock(alloc_mutex_);
    auto it = resident_.find(resident.data);
    if (it == resident_.end()) return;
    release(it->second);
    resident_.erase(it);
  }

  // ---- ops
  // One product: a group of one (linear_group decides the path).
  void linear(const Tensor& w, const float* x, int64_t n, float* y, const float* bias) override {
    const LinearJob job{&w, y, bias};
    linear_group(&job, 1, x, n);
  }
  // Products of one input: its int8 codes made once for every int8 matmul,
  // and consecutive GEMVs of one format (q/k/v, gate/up) in one launch.
  void linear_group(const LinearJob* jobs, int count, const float* x, int64_t n) override {
    bool quantised = false;
    for (int j = 0; j < count;) {
      const DeviceWeight& d = weight(*jobs[j].w);
      if (profile_) label_matmul(d, n);
      if (use_mmq(d, n)) {
        if (!quantised) {
          reserve_activation_codes(n, d.cols);
          if (!codes_ready(x, n * d.cols)) quantise_activations(x, n, d.cols);
        }
        quantised = true;
        mmq_product(d, n, jobs[j].y, jobs[j].bias);
        ++j;
        continue;
      }
      if (tensor_core_product(d, n)) {
        cublas_product(d, x, n, jobs[j].y, jobs[j].bias);
        ++j;
        continue;
      }
      const bool int8 = int8_decode(d, n);
      if (!int8 && !wide_decode(d, n)) {
        f32_product(d, x, n, jobs[j].y, jobs[j].bias);
        ++j;
        continue;
      }
      GemvGroup group;
      for (; j < count && group.count < kMaxGemvJobs; ++j) {
        const DeviceWeight& e = weight(*jobs[j].w);
        const bool same_path = int8 ? int8_decode(e, n) : wide_decode(e, n);
        if (e.format != d.format || e.cols != d.cols || !same_path || use_mmq(e, n) || tensor_core_product(e, n))
          break;
        group.job[group.count++] = GemvJob{e, jobs[j].y, e.rows, jobs[j].bias};
      }
      if (profile_ && group.count > 1) profile_note_ += " +" + std::to_string(group.count - 1) + " more";
      if (int8) {
        if (!quantised && !codes_ready(x, n * d.cols)) quantise_activations(x, n, d.cols);
        quantised = true;
        enqueue([](cudaStream_t st, const GemvGroup& g, const int8_t* q, const float2* ds, int64_t m) {
          gemv_int8_jobs(g.job, g.count, q, ds, m, st);
        }, group, act_q_, act_ds_, n);
      } else {
        enqueue([](cudaStream_t st, const GemvGroup& g, const float* a, int64_t m) {
          gemv_wide_jobs(g.job, g.count, a, m, st);
        }, group, x, n);
      }
    }
  }
  void embedding(const Tensor& table, const int32_t* ids, int64_t n, float* out, float scale) override {
    enqueue([](cudaStream_t st, const DeviceWeight& t, const int32_t* i, int64_t m, float* o, float sc) {
      cuda::embedding(t, i, m, o, sc, st);
    }, weight(table), ids, n, out, scale);
  }
  void rms_norm(const float* x, const float* w, int64_t n, int64_t dim, float eps, bool plus_one, float* out) override {
    std::lock_guard ops(ops_mutex_);
    const bool codes = can_carry_codes(n * dim);
    int8_t* q = codes ? act_q_ : nullptr;
    float2* ds = codes ? act_ds_ : nullptr;
    if (pending_add_.y == x && pending_add_.count == n * dim) {
      const PendingAdd a = pending_add_;
      pending_add_ = {};
      enqueue([](cudaStream_t st, float* s, const float* r, const float* b, int64_t m, int64_t d, float e, bool one,
                 float* o, int8_t* c, float2* cs) { cuda::add_rms_norm(s, r, b, m, d, e, one, o, st, c, cs); },
              a.y, a.x, w, n, dim, eps, plus_one, out, q, ds);
    } else {
      enqueue([](cudaStream_t st, const float* a, const float* b, int64_t m, int64_t d, float e, bool one, float* o,
                 int8_t* c, float2* cs) { cuda::rms_norm(a, b, m, d, e, one, o, st, c, cs); },
              x, w, n, dim, eps, plus_one, out, q, ds);
    }
    if (codes) codes_ = {out, n * dim};
  }
  void rope_table(const RopeConfig& rope, const int64_t* positions, int64_t n, float* table) override {
    std::lock_guard ops(ops_mutex_);
    const float* inv = stage(rope.inv_freq.data(), rope.inv_freq.size() * sizeof(float));
    enqueue([](cudaStream_t st, const int64_t* pos, int64_t m, const float* f, int64_t dim, float sc, float* t) {
      cuda::rope_table(pos, m, f, dim, sc, t, st);
    }, positions, n, inv, rope.rotary_dim, rope.attention_scale, table);
  }
  // A rope waits for the next op like a residual add: the decoder ropes q,
  // then k with the same table, and the two run as one launch.
  void rope(float* x, int64_t n, int64_t heads, int64_t head_dim, const RopeConfig& rope, const float* table) override {
    std::lock_guard ops(ops_mutex_);
    const PendingRope r{x, n, heads, head_dim, rope.rotary_dim, rope.interleaved, table};
    const PendingRope& p = pending_rope_;
    if (p.x && !p.y && p.table == table && p.n == n && p.head_dim == head_dim && p.rotary_dim == r.rotary_dim &&
        p.interleaved == r.interleaved && p.x != x) {
      // The pair waits too: a kv_append of these keys next takes it in.
      pending_rope_.y = x;
      pending_rope_.y_heads = heads;
      return;
    }
    settle_held();
    if (fuse_codes_) {
      pending_rope_ = r;
      return;
    }
    enqueue([](cudaStream_t st, float* a, int64_t m, int64_t h, int64_t d, int64_t rot, bool il, const float* t) {
      cuda::rope(a, m, h, d, rot, il, t, st);
    }, x, n, heads, head_dim, rope.rotary_dim, rope.interleaved, table);
  }
  // Every sequence in one launch: their views, tokens and positions staged as DeviceSeq records.
  void kv_append(const KVAppendSeq* seqs, int64_t count, int64_t kv_heads, int64_t head_dim) override {
    std::lock_guard ops(ops_mutex_);
    const KVRope rope = rope_for_append(seqs, count, kv_heads, head_dim);
    if (rope.table) pending_rope_ = {};  // done by the append (enqueue would settle it first)
    int64_t max_n = 0;
    std::vector<DeviceSeq>& list = seq_records(count);
    for (int64_t s = 0; s < count; ++s) {
      const KVAppendSeq& q = seqs[s];
      if (q.n == 0) continue;
      DeviceSeq& r = list.emplace_back();
      std::memset(static_cast<void*>(&r), 0, sizeof r);
      r.kv = device_kv(q.kv, q.pos0 + q.n), r.a = q.k, r.b = q.v, r.n = q.n, r.pos0 = q.pos0;
      max_n = std::max(max_n, q.n);
    }
    if (list.empty()) return;  // (then no rope was taken either)
    const DeviceSeq* dev = stage_as<DeviceSeq>(list.data(), list.size() * sizeof(DeviceSeq));
    enqueue([](cudaStream_t st, const DeviceSeq* sq, int64_t c, int64_t m, int64_t kvh, int64_t d, const KVRope& r) {
      kv_append_seqs(sq, c, m, kvh, d, st, r);
    }, dev, int64_t(list.size()), max_n, kv_heads, head_dim, rope);
  }
  void attention(const AttentionSeq* seqs, int64_t count, const AttentionParams& p) override {
    std::lock_guard ops(ops_mutex_);
    DeviceAttention dp;
    std::memset(static_cast<void*>(&dp), 0, sizeof dp);  // its bytes are compared
    dp.heads = p.heads, dp.kv_heads = p.kv_heads, dp.head_dim = p.head_dim, dp.scale = p.scale;
    dp.softcap = p.softcap, dp.window = p.window, dp.sinks = p.sinks;
    int64_t max_n = 0;
    std::vector<DeviceSeq>& list = seq_records(count);
    for (int64_t s = 0; s < count; ++s) {
      const AttentionSeq& q = seqs[s];
      if (q.n == 0) continue;
      DeviceSeq& r = list.emplace_back();
      std::memset(static_cast<void*>(&r), 0, sizeof r);
      r.kv = device_kv(q.kv, q.pos0 + q.n), r.a = q.q, r.out = q.out, r.n = q.n, r.pos0 = q.pos0;
      max_n = std::max(max_n, q.n);
      // One KV type for all (the kernel is chosen by it on the host), else -1.
      dp.kv_type = list.size() == 1 || dp.kv_type == int32_t(q.kv.type) ? int32_t(q.kv.type) : -1;
    }
    if (list.empty()) return;
    // The output's int8 codes for the output projection, when the sequences'
    // outputs lie one after another (one activation buffer) and the
    // per-token kernel runs (decode).
    const int64_t row = p.heads * p.head_dim;
    int64_t total = 0;
    bool codes = p.head_dim % 32 == 0 && !flash_attention_fits(dp, dp.kv_type, max_n);
    for (DeviceSeq& r : list) {
      codes = codes && r.out == list[0].out + total;
      r.code0 = total;
      total += r.n * row;
    }
    codes = codes && can_carry_codes(total);
    const DeviceSeq* dev = stage_as<DeviceSeq>(list.data(), list.size() * sizeof(DeviceSeq));
    enqueue([](cudaStream_t st, const DeviceSeq* sq, int64_t c, int64_t m, const DeviceAttention& a, int8_t* q,
               float2* ds) { attention_seqs(sq, c, m, a, st, q, ds); },
            dev, int64_t(list.size()), max_n, dp, codes ? act_q_ : nullptr, codes ? act_ds_ : nullptr);
    if (codes) codes_ = {list[0].out, total};
  }
  void gated_activation(const float* gate, const float* up, int64_t count, Activation act, float* out,
                        float limit) override {
    std::lock_guard ops(ops_mutex_);
    const bool codes = can_carry_codes(count);
    enqueue([](cudaStream_t st, const float* g, const float* u, int64_t c, int a, float* o, float l, int8_t* q,
               float2* ds) { cuda::gated_activation(g, u, c, a, o, l, st, q, ds); },
            gate, up, count, int(act), out, limit, codes ? act_q_ : nullptr, codes ? act_ds_ : nullptr);
    if (codes) codes_ = {out, count};
  }
  // A residual add waits for the next op: an rms_norm of its sum takes it in
  // (add_rms_norm, one kernel instead of two); anything else runs it first
  // (enqueue and flush settle it). ALLM_CUDA_FUSE=0: no op is held back.
  void add(float* y, const float* x, int64_t count) override {
    std::lock_guard ops(ops_mutex_);
    settle_held();
    if (fuse_codes_) {
      pending_add_ = PendingAdd{y, x, count};
      return;
    }
    enqueue([](cudaStream_t st, float* a, const float* b, int64_t c) { cuda::add(a, b, c, st); }, y, x, count);
  }
  void softcap(float* x, int64_t count, float cap) override {
    enqueue([](cudaStream_t st, float* a, int64_t c, float v) { cuda::softcap(a, c, v, st); }, x, count, cap);
  }
  void scale(float* x, int64_t count, float factor) override {
    enqueue([](cudaStream_t st, float* a, int64_t c, float v) { cuda::scale(a, c, v, st); }, x, count, factor);
  }
  void gather_rows(const float* src, const int32_t* rows, int64_t count, int64_t dim, float* out) override {
    enqueue([](cudaStream_t st, const float* a, const int32_t* r, int64_t c, int64_t d, float* o) {
      cuda::gather_rows(a, r, c, d, o, st);
    }, src, rows, count, dim, out);
  }
  void moe_route(const float* logits, int64_t n, int64_t experts, int64_t top_k, bool renormalize, int32_t* chosen,
                 float* weights) override {
    enqueue([](cudaStream_t st, const float* l, int64_t m, int64_t e, int64_t k, bool r, int32_t* c, float* w) {
      cuda::moe_route(l, m, e, k, r, c, w, st);
    }, logits, n, experts, top_k, renormalize, chosen, weights);
  }
  void moe_combine(const float* src, const int32_t* slots, int64_t count, int64_t dim, int64_t top_k,
                   const float* weights, float* out) override {
    enqueue([](cudaStream_t st, const float* a, const int32_t* sl, int64_t c, int64_t d, int64_t k, const float* w,
               float* o) { cuda::moe_combine(a, sl, c, d, k, w, o, st); },
            src, slots, count, dim, top_k, weights, out);
  }

 private:
  struct Resident {
    DeviceWeight w;
    void* extra = nullptr;  // MLX scales + biases
  };

  void release(Resident& r) noexcept {
    cudaFree(const_cast<uint8_t*>(r.w.data));
    if (r.extra) cudaFree(r.extra);
  }

  // GEMVs launched together by linear_group.
  struct GemvGroup {
    GemvJob job[kMaxGemvJobs];
    int count = 0;
  };
  bool wide_decode(const DeviceWeight& d, int64_t n) const { return int8_ && n <= kGemvTokens && gemv_wide_supports(d); }
  // The GEMV or tiled GEMM over decode_slice (formats without a faster path).
  void f32_product(const DeviceWeight& d, const float* x, int64_t n, float* y, const float* bias) {
    enqueue([](cudaStream_t st, const DeviceWeight& w, const float* a, int64_t m, float* o, const float* b) {
      cuda::linear(w, a, m, o, w.rows, b, st);
    }, d, x, n, y, bias);
  }
  // cuBLAS's tensor cores for a product of more than kGemvMaxTokens tokens,
  // where the GEMVs would stream the weights more than once. Measured on the
  // 8B-shaped Q4_K_M file (H100, batched decode): 32 tokens a step 2.0x
  // faster through cuBLAS than through the GEMVs (4 passes), 8 tokens 1.4x
  // slower (the GEMVs' one pass against a dequantisation of every matrix).
  bool tensor_core_product(const DeviceWeight& d, int64_t n) const {
    if (!gemm_.handle || !cublas_gemm_supports(d)) return false;
    return gemm_min_tokens_ > 0 ? n >= gemm_min_tokens_ : n > kGemvMaxTokens;
  }
  void cublas_product(const DeviceWeight& d, const float* x, int64_t n, float* y, const float* bias) {
    reserve_gemm_scratch(d, n);
    enqueue([](cudaStream_t st, const CublasGemm& g, const DeviceWeight& w, const float* a, int64_t m, float* o,
               const float* b) { cublas_gemm(g, w, a, m, o, w.rows, b, st); },
            gemm_, d, x, n, y, bias);
  }
  void open_cublas() {
    std::string why;
    const CublasLibrary* lib = cublas_library(why);
    if (!lib) {
      std::fprintf(stderr, "allm: CUDA backend: %s; prefill uses the backend's own GEMM\n", why.c_str());
      return;
    }
    check_cublas(lib->create(&gemm_.handle), "cublasCreate");
    gemm_.lib = lib;
    // A workspace of its own, so that nothing is allocated while a graph is captured.
    check(cudaMalloc(&cublas_workspace_, kCublasWorkspace), "cudaMalloc");
    check_cublas(lib->set_workspace(gemm_.handle, cublas_workspace_, kCublasWorkspace), "cublasSetWorkspace");
    check_cublas(lib->set_stream(gemm_.handle, stream_), "cublasSetStream");
  }
  // Scratch for the cuBLAS path: the largest weight tile of every resident
  // matrix, the activations of n tokens. Growing waits for the stream and
  // drops the captured graphs (they hold the old buffers' addresses).
  void reserve_gemm_scratch(const DeviceWeight& d, int64_t n) {
    const int64_t tile = cublas_gemm_tile_elems(d), act = cublas_gemm_activation_elems(d, n);
    if (tile <= gemm_.tile_elems && act <= gemm_.activation_elems && n <= gemm_.tokens) return;
    flush();
    sync();
    drop_graphs();
    if (tile > gemm_.tile_elems) {
      cudaFree(gemm_.tile);
      gemm_.tile = nullptr;
      gemm_.tile = static_cast<uint16_t*>(alloc(size_t(tile) * 2));
      gemm_.tile_elems = tile;
    }
    if (act > gemm_.activation_elems || n > gemm_.tokens) {
      cudaFree(gemm_.activations);
      gemm_.activations = nullptr;
      // Rounded up to powers of two: a few growths at most.
      int64_t tokens = 64, elems = int64_t(1) << 20;
      while (tokens < n) tokens *= 2;
      while (elems < act) elems *= 2;
      auto* p = static_cast<uint8_t*>(alloc(size_t(elems) * 2 + size_t(tokens) * sizeof(float)));
      gemm_.activations = reinterpret_cast<uint16_t*>(p);
      gemm_.activation_elems = elems;
      gemm_.token_scale = reinterpret_cast<float*>(p + size_t(elems) * 2);
      gemm_.tokens = tokens;
    }
  }
  void drop_graphs() {
    for (auto& g : graphs_cache_) cudaGraphExecDestroy(g.exec);
    graphs_cache_.clear();
    last_signature_.clear();
  }
  void quantise_activations(const float* x, int64_t n, int64_t cols) {
    enqueue([](cudaStream_t st, const float* a, int64_t m, int64_t c, int8_t* q, float2* ds) {
      quantize_q8(a, m, c, q, ds, st);
    }, x, n, cols, act_q_, act_ds_);
  }
  // The int8 tensor cores (gemm_int8.cu) for the formats the int8 GEMV reads,
  // between the GEMVs and cuBLAS (quantise_activations first). Measured on the 8B-shaped Q4_K_M
  // file (H100): 8 sequences' batched decode 1.9x faster than through the
  // 8-token GEMV (which does 8 tokens' dp4a work per weight byte); a 512-token
  // prefill 2x slower than cuBLAS over dequantised F16 tiles, whose fixed
  // dequantisation cost is spread over many tokens there.
  bool use_mmq(const DeviceWeight& d, int64_t n) const {
    if (!mmq_ || n < mmq_min_tokens_ || !gemm_int8_supports(d)) return false;
    return n <= mmq_max_tokens_ || !gemm_.handle;
  }
  void mmq_product(const DeviceWeight& d, int64_t n, float* y, const float* bias) {
    enqueue([](cudaStream_t st, const DeviceWeight& w, const int8_t* q, const float2* ds, int64_t m, float* o,
               const float* b, float* partial) { gemm_int8(w, q, ds, m, o, w.rows, b, partial, kGemmInt8Partials, st); },
            d, act_q_, act_ds_, n, y, bias, mmq_partials_);
  }

  // ---- recording and graphs
  // Adds the bytes of `v` to the segment's signature.
  template <class T>
  void sign(const T& v) {
    static_assert(std::is_trivially_copyable_v<T>);
    uint64_t words[(sizeof(T) + 7) / 8] = {};
    std::memcpy(words, &v, sizeof(T));
    signature_.insert(signature_.end(), words, words + (sizeof(T) + 7) / 8);
  }
  // An address unique to each op (the type of its launching lambda).
  template <class F>
  static uintptr_t op_id() {
    static const char id = 0;
    return reinterpret_cast<uintptr_t>(&id);
  }
  // Runs fn(stream, args...) now (graphs off) or records it for the segment.
  template <class F, class... A>
  void enqueue(F fn, const A&... args) {
    static_assert(std::is_empty_v<F>, "an op captures nothing: everything it uses is an argument");
    std::lock_guard ops(ops_mutex_);
    settle_held();
    codes_ = {};  // an op may write the activations the codes were made of
    if (profile_) {
      timed(profile_key<F>(), [&] { fn(stream_, args...); });
      return;
    }
    if (!graphs_) {
      fn(stream_, args...);
      return;
    }
    signature_.push_back(op_id<F>());
    (sign(args), ...);
    pending_.emplace_back([fn, args...](cudaStream_t st) { fn(st, args...); });
  }
  // ---- ALLM_CUDA_PROFILE
  // The op's name: the backend function its launching lambda is defined in.
  template <class F>
  std::string profile_key() {
    int status = 0;
    char* name = abi::__cxa_demangle(typeid(F).name(), nullptr, nullptr, &status);
    std::string s = status == 0 && name ? name : typeid(F).name();
    std::free(name);
    const size_t at = s.find("CudaBackend::");
    if (at != std::string::npos) s = s.substr(at + 13, s.find('(', at) - at - 13);
    // Matmuls (the *_product paths and their activations' quantisation) by weight and token count.
    const bool matmul = (s.size() > 8 && s.compare(s.size() - 8, 8, "_product") == 0) || s == "quantise_activations" ||
                        s == "linear_group";
    if (matmul) s += " " + profile_note_;
    return s;
  }
  void label_matmul(const DeviceWeight& d, int64_t n) {
    static const char* const names[] = {"f32",  "f16",  "bf16", "mlx",  "q4_0", "q4_1",  "q5_0",       "q5_1",
                                        "q8_0", "q2_k", "q3_k", "q4_k", "q5_k", "q6_k",  "mxfp4", "q8_0_split",
                                        "q6_k_split"};
    const int f = int(d.format);
    profile_note_ = std::string(f >= 0 && f < 17 ? names[f] : "?") + " " + std::to_string(d.rows) + "x" +
                    std::to_string(d.cols) + " n=" + std::to_string(n);
  }
  template <class Run>
  void timed(const std::string& key, Run run) {
    if (!profile_start_) {
      check(cudaEventCreate(&profile_start_), "cudaEventCreate");
      check(cudaEventCreate(&profile_stop_), "cudaEventCreate");
    }
    check(cudaEventRecord(profile_start_, stream_), "cudaEventRecord");
    run();
    check(cudaEventRecord(profile_stop_, stream_), "cudaEventRecord");
    check(cudaEventSynchronize(profile_stop_), "cudaEventSynchronize");
    float ms = 0;
    check(cudaEventElapsedTime(&ms, profile_start_, profile_stop_), "cudaEventElapsedTime");
    auto& [calls, total] = profile_ops_[key];
    ++calls;
    total += ms;
  }
  void print_profile() const {
    double all = 0;
    for (const auto& [k, v] : profile_ops_) all += v.second;
    std::vector<std::pair<std::string, std::pair<int64_t, double>>> rows(profile_ops_.begin(), profile_ops_.end());
    std::sort(rows.begin(), rows.end(), [](const auto& a, const auto& b) { return a.second.second > b.second.second; });
    std::fprintf(stderr, "ALLM_CUDA_PROFILE: %.3f ms of GPU time in %zu kinds of op\n", all, rows.size());
    std::fprintf(stderr, "%10s %8s %10s %6s  op\n", "ms", "calls", "us/call", "share");
    for (const auto& [k, v] : rows)
      std::fprintf(stderr, "%10.3f %8lld %10.2f %5.1f%%  %s\n", v.second, static_cast<long long>(v.first),
                   1000.0 * v.second / double(v.first), 100.0 * v.second / all, k.c_str());
  }

  // Runs the recorded segment: its staged bytes to the device, then the
  // segment as a graph when an equal one was seen, else op by op.
  void flush() {
    std::lock_guard ops(ops_mutex_);
    settle_held();
    if (ring_used_ > ring_sent_) {
      check(cudaMemcpyAsync(ring_dev_ + ring_sent_, ring_host_ + ring_sent_, ring_used_ - ring_sent_,
                            cudaMemcpyHostToDevice, stream_),
            "stage");
      ring_sent_ = ring_used_;
    }
    if (pending_.empty()) return;
    cudaGraphExec_t exec = nullptr;
    for (auto it = graphs_cache_.begin(); it != graphs_cache_.end(); ++it)
      if (it->signature == signature_) {
        exec = it->exec;
        std::rotate(graphs_cache_.begin(), it, it + 1);  // most recent first
        break;
      }
    if (!exec && signature_ == last_signature_) exec = capture();
    if (exec) {
      check(cudaGraphLaunch(exec, stream_), "cudaGraphLaunch");
    } else {
      for (auto& op : pending_) op(stream_);
    }
    last_signature_.swap(signature_);
    signature_.clear();
    pending_.clear();
  }
  cudaGraphExec_t capture() {
    cudaGraph_t graph = nullptr;
    check(cudaStreamBeginCapture(stream_, cudaStreamCaptureModeThreadLocal), "cudaStreamBeginCapture");
    try {
      for (auto& op : pending_) op(stream_);
    } catch (...) {
      cudaStreamEndCapture(stream_, &graph);
      if (graph) cudaGraphDestroy(graph);
      throw;
    }
    check(cudaStreamEndCapture(stream_, &graph), "cudaStreamEndCapture");
    cudaGraphExec_t exec = nullptr;
    const cudaError_t e = cudaGraphInstantiate(&exec, graph, 0);
    cudaGraphDestroy(graph);
    check(e, "cudaGraphInstantiate");
    if (graphs_cache_.size() >= kGraphs) {
      cudaGraphExecDestroy(graphs_cache_.back().exec);
      graphs_cache_.pop_back();
    }
    graphs_cache_.insert(graphs_cache_.begin(), Graph{signature_, exec});
    return exec;
  }

  // Fused quantisation: an rms_norm or gated activation whose output fits the
  // activation-code buffer writes the output's int8 codes there too, and the
  // matmul that reads that output next (the usual order: norm, then the
  // q/k/v or gate/up products; activation, then down) skips quantize_q8.
  // Rows of a multiple of 32 elements keep the flat blocks of 32 the rows'
  // blocks. Any other op in between drops the claim (enqueue).
  struct Codes {
    const float* x = nullptr;
    int64_t elems = 0;
  };
  bool can_carry_codes(int64_t elems) const {
    return fuse_codes_ && int8_ && act_q_ && elems % 32 == 0 && elems <= act_tokens_ * act_cols_;
  }
  bool codes_ready(const float* x, int64_t elems) const { return fuse_codes_ && codes_.x == x && codes_.elems == elems; }

  struct PendingAdd {
    float* y = nullptr;
    const float* x = nullptr;
    int64_t count = 0;
  };
  struct PendingRope {
    float* x = nullptr;
    int64_t n = 0, heads = 0, head_dim = 0, rotary_dim = 0;
    bool interleaved = false;
    const float* table = nullptr;
    float* y = nullptr;  // a second tensor roped with the same table (the decoder's q, then k)
    int64_t y_heads = 0;
  };
  // The held q/k rope as kv_append's KVRope, when these appends are of its
  // keys (x holds the queries, y the keys, each sequence's keys whole rows
  // of y); else a KVRope without a table.
  KVRope rope_for_append(const KVAppendSeq* seqs, int64_t count, int64_t kv_heads, int64_t head_dim) const {
    const PendingRope& r = pending_rope_;
    if (!r.y || r.y_heads != kv_heads || r.head_dim != head_dim) return {};
    const int64_t row = kv_heads * head_dim;
    bool any = false;
    for (int64_t s = 0; s < count; ++s) {
      if (seqs[s].n == 0) continue;
      const int64_t at = seqs[s].k - r.y;
      if (at < 0 || at % row != 0 || at / row + seqs[s].n > r.n) return {};
      any = true;
    }
    if (!any) return {};
    return KVRope{r.table, r.y, r.x, r.heads, r.n, r.rotary_dim / 2, r.interleaved ? 1 : 0};
  }
  // Enqueues the ops add() and rope() held back, if any (at most one is held).
  void settle_held() {
    if (pending_add_.y) {
      const PendingAdd a = pending_add_;
      pending_add_ = {};
      enqueue([](cudaStream_t st, float* y, const float* x, int64_t c) { cuda::add(y, x, c, st); }, a.y, a.x, a.count);
    }
    if (pending_rope_.x) {
      const PendingRope r = pending_rope_;
      pending_rope_ = {};
      enqueue([](cudaStream_t st, float* a, int64_t ah, float* b, int64_t bh, int64_t m, int64_t d, int64_t rot, bool il,
                 const float* t) { cuda::rope_pair(a, ah, b, bh, m, d, rot, il, t, st); },
              r.x, r.heads, r.y, r.y_heads, r.n, r.head_dim, r.rotary_dim, r.interleaved, r.table);
    }
  }

  bool int8_decode(const DeviceWeight& d, int64_t n) const {
    return int8_ && n <= kGemvTokens && n <= act_tokens_ && d.cols <= act_cols_ && gemv_int8_supports(d);
  }

  // Room for the int8 codes of n tokens of `cols` activations (and, for
  // gemm_int8, its split scratch). Growing waits for the stream and drops the
  // captured graphs (they hold the old buffer's address), like reserve_gemm_scratch.
  void reserve_activation_codes(int64_t n, int64_t cols) {
    if (mmq_ && !mmq_partials_) {
      flush();
      sync();
      drop_graphs();
      mmq_partials_ = static_cast<float*>(alloc(size_t(kGemmInt8Partials) * sizeof(float)));
    }
    if (n <= act_tokens_ && cols <= act_cols_) return;
    flush();
    sync();
    drop_graphs();
    codes_ = {};
    cudaFree(act_q_);
    act_q_ = nullptr;
    int64_t tokens = std::max<int64_t>(act_tokens_, kGemvTokens);
    while (tokens < n) tokens *= 2;  // powers of two: a few growths at most
    cols = std::max(cols, act_cols_);
    const size_t codes = size_t(tokens * cols), scales = size_t(tokens * cols / 32);  // cols: a multiple of 32
    auto* p = static_cast<uint8_t*>(alloc(codes + scales * sizeof(float2)));
    act_q_ = reinterpret_cast<int8_t*>(p);
    act_ds_ = reinterpret_cast<float2*>(p + codes);
    act_tokens_ = tokens;
    act_cols_ = cols;
  }

  const DeviceWeight& weight(const Tensor& w) {
    auto it = resident_.find(w.data);
    if (it == resident_.end())
      throw InvalidArgumentError("CUDA backend: tensor '" + w.name + "' was not made resident on " + domain_);
    return it->second.w;
  }

  // Waits for the stream (nothing may be pending); the ring starts over.
  void sync() {
    check(cudaStreamSynchronize(stream_), "cudaStreamSynchronize");
    ring_used_ = ring_sent_ = 0;
  }

  // Copies `bytes` of host data to device memory that stays valid until the
  // next synchronisation of the stream (the ring is reused after one).
  template <class T>
  const T* stage_as(const void* src, size_t bytes) {
    return stage_as<T>(src, bytes, bytes);
  }
  // ... taking `reserve` >= bytes of the ring (a table that grows keeps the
  // offsets after it until it outgrows its reservation).
  template <class T>
  const T* stage_as(const void* src, size_t bytes, size_t reserve) {
    std::lock_guard ops(ops_mutex_);
    const size_t need = (reserve + 255) / 256 * 256;
    if (need > kRingBytes) throw InvalidArgumentError("CUDA backend: a staged table of " + std::to_string(bytes) + " bytes");
    if (ring_used_ + need > kRingBytes) {
      flush();
      sync();
    }
    std::memcpy(ring_host_ + ring_used_, src, bytes);
    if (!graphs_) {  // copied now; with graphs, by flush() before the segment runs
      check(cudaMemcpyAsync(ring_dev_ + ring_used_, ring_host_ + ring_used_, bytes, cudaMemcpyHostToDevice, stream_),
            "stage");
    }
    const T* p = reinterpret_cast<const T*>(ring_dev_ + ring_used_);
    ring_used_ += need;
    if (!graphs_) ring_sent_ = ring_used_;
    return p;
  }
  const float* stage(const float* src, size_t bytes) { return stage_as<float>(src, bytes); }

  std::vector<DeviceSeq>& seq_records(int64_t count) {
    seq_records_.clear();
    seq_records_.reserve(size_t(count));
    return seq_records_;
  }

  // The view's block table (host array of device block addresses) staged on the device.
  DeviceKV device_kv(const KVLayerView& v, int64_t positions) {
    const int64_t blocks = (positions + v.block - 1) / v.block;
    DeviceKV d;
    std::memset(static_cast<void*>(&d), 0, sizeof d);  // its bytes (padding too) are compared
    // Reserved in steps of 64 blocks: decode steps keep their ring offsets.
    d.blocks = stage_as<const uint8_t*>(v.blocks, size_t(blocks) * sizeof(uint8_t*),
                                        size_t((blocks + 63) / 64 * 64) * sizeof(uint8_t*));
    d.k_offset = v.k_offset;
    d.v_offset = v.v_offset;
    d.block = v.block;
    d.head_stride = v.head_stride;
    d.row_bytes = v.row_bytes;
    d.type = int32_t(v.type);
    return d;
  }

  static constexpr size_t kRingBytes = size_t(4) << 20;
  static constexpr size_t kStagedUpload = size_t(64) << 10;
  // Tokens up to which a matmul goes through the int8 / wide GEMVs (in
  // chunks of kGemvMaxTokens, the weights read once per chunk): batched
  // decode of up to 32 sequences; the tiled GEMM above.
  static constexpr int64_t kGemvTokens = 32;
  // Tokens whose activation codes are reserved at load when gemm_int8 is on
  // (batched decode and prefill chunks up to this size never reallocate).
  static constexpr int64_t kMmqTokens = 512;
  static constexpr size_t kGraphs = 8;  // graphs kept (most recently used)
  static constexpr size_t kCublasWorkspace = size_t(32) << 20;
  struct Graph {
    std::vector<uint64_t> signature;
    cudaGraphExec_t exec;
  };
  int device_;
  cudaStream_t stream_ = nullptr;
  uint8_t* ring_host_ = nullptr;
  uint8_t* ring_dev_ = nullptr;
  size_t ring_used_ = 0;
  size_t ring_sent_ = 0;  // ring bytes already copied to the device
  bool graphs_ = true;
  bool profile_ = false;  // ALLM_CUDA_PROFILE
  std::string profile_note_;  // the matmul being launched (profile_ only)
  std::map<std::string, std::pair<int64_t, double>> profile_ops_;  // op -> calls, ms
  cudaEvent_t profile_start_ = nullptr, profile_stop_ = nullptr;
  std::recursive_mutex ops_mutex_;  // recording, flushing, alloc/free
  std::vector<std::function<void(cudaStream_t)>> pending_;
  std::vector<uint64_t> signature_, last_signature_;
  std::vector<Graph> graphs_cache_;
  std::vector<DeviceSeq> seq_records_;  // host side of a batched call's DeviceSeq array
  std::string domain_;
  bool int8_ = true;  // int8 GEMVs for the formats that have them
  bool fuse_codes_ = true;  // ALLM_CUDA_FUSE
  Codes codes_;  // what act_q_ holds the codes of (fused quantisation), if anything
  PendingAdd pending_add_;  // a residual add not yet enqueued (add())
  PendingRope pending_rope_;  // a rope not yet enqueued (rope())
  bool mmq_ = true;  // gemm_int8 for more than kGemvMaxTokens tokens (ALLM_CUDA_MMQ=0: off)
  int64_t mmq_min_tokens_ = 4;    // ALLM_CUDA_MMQ_MIN
  int64_t mmq_max_tokens_ = 128;  // ALLM_CUDA_MMQ_MAX; more tokens through cuBLAS where it opened
  int8_t* act_q_ = nullptr;  // activation codes for gemv_int8 / gemm_int8: act_tokens_ x act_cols_
  float2* act_ds_ = nullptr;
  int64_t act_tokens_ = 0, act_cols_ = 0;
  float* mmq_partials_ = nullptr;  // gemm_int8's split scratch (kGemmInt8Partials floats)
  CublasGemm gemm_;  // cuBLAS (null handle: not available) and its scratch
  void* cublas_workspace_ = nullptr;
  int64_t gemm_min_tokens_ = 0;  // > 0: the cuBLAS path from this many tokens on (ALLM_CUDA_GEMM_MIN)
  std::mutex alloc_mutex_;
  std::unordered_map<const void*, Resident> resident_;
};

}  // namespace

std::string unavailable_reason() {
  int count = 0;
  const cudaError_t e = cudaGetDeviceCount(&count);
  if (e != cudaSuccess) {
    cudaGetLastError();
    return std::string("no usable CUDA driver or device (") + cudaGetErrorString(e) + ")";
  }
  if (count == 0) return "no CUDA device";
  cudaDeviceProp prop{};
  if (cudaGetDeviceProperties(&prop, 0) != cudaSuccess) return "cannot read the CUDA device's properties";
  if (prop.major < 9)
    return std::string(prop.name) + " has compute capability " + std::to_string(prop.major) + "." +
           std::to_string(prop.minor) + "; the kernels are built for 9.0 (Hopper) and later";
  return "";
}

std::string describe_device(int device) {
  cudaDeviceProp prop{};
  if (cudaGetDeviceProperties(&prop, device) != cudaSuccess) return unavailable_reason();
  int driver = 0;
  cudaDriverGetVersion(&driver);
  char line[512];
  std::snprintf(line, sizeof line, "%.256s, %.1f GiB, compute capability %d.%d, %d SMs, driver CUDA %d.%d", prop.name,
                double(prop.totalGlobalMem) / 1073741824.0, prop.major, prop.minor, prop.multiProcessorCount,
                driver / 1000, (driver % 1000) / 10);
  return line;
}

std::shared_ptr<Backend> make_cuda_backend(int device) {
  const std::string why = unavailable_reason();
  if (!why.empty()) throw UnsupportedError("CUDA backend: " + why);
  return std::make_shared<CudaBackend>(device);
}

}  // namespace allm::cuda
