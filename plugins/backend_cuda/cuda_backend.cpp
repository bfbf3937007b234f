// allm::Backend on a CUDA device. Backend memory is device memory; weights
// are uploaded once by make_resident in their stored block layout (the CPU's
// interleaved GGUF panels restored first; MLX scales/biases widened to F32);
// every op enqueues kernels on one stream, so host code only waits at
// download/upload. Small per-call tables (KV block addresses, rope
// frequencies) go through a pinned staging ring.
#include "cuda_backend.hpp"

#include <cstdio>
#include <cstring>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include <cuda_runtime_api.h>

#include "allm/error.hpp"
#include "allm/weight_format.hpp"
#include "kernels.hpp"
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

class CudaBackend final : public Backend {
 public:
  explicit CudaBackend(int device) : device_(device) {
    check(cudaSetDevice(device), "cudaSetDevice");
    check(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking), "cudaStreamCreate");
    check(cudaMallocHost(reinterpret_cast<void**>(&ring_host_), kRingBytes), "cudaMallocHost");
    check(cudaMalloc(reinterpret_cast<void**>(&ring_dev_), kRingBytes), "cudaMalloc");
    cudaDeviceProp prop{};
    check(cudaGetDeviceProperties(&prop, device), "cudaGetDeviceProperties");
    domain_ = "cuda:" + std::to_string(device) + " (" + prop.name + ")";
  }
  ~CudaBackend() override {
    cudaStreamSynchronize(stream_);
    for (auto& [p, r] : resident_) release(r);
    cudaFree(ring_dev_);
    cudaFreeHost(ring_host_);
    cudaStreamDestroy(stream_);
  }

  const char* name() const override { return "cuda"; }
  int threads() const override { return 1; }

  // ---- memory
  void* alloc(size_t bytes) override {
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
    if (p) cudaFree(p);
  }
  void upload(void* dst, const void* src, size_t bytes) override {
    if (bytes == 0) return;
    check(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, stream_), "upload");
    sync();
  }
  void download(void* dst, const void* src, size_t bytes) override {
    if (bytes == 0) return;
    check(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToHost, stream_), "download");
    sync();
  }
  void copy(void* dst, const void* src, size_t bytes) override {
    if (bytes) check(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, stream_), "copy");
  }
  void zero(void* dst, size_t bytes) override {
    if (bytes) check(cudaMemsetAsync(dst, 0, bytes, stream_), "zero");
  }
  std::string memory_domain() const override { return domain_; }

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
    auto* dev = static_cast<uint8_t*>(alloc(total));
    upload(dev, bytes, total);
    r.w.data = dev;
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
  void linear(const Tensor& w, const float* x, int64_t n, float* y, const float* bias) override {
    const DeviceWeight& d = weight(w);
    cuda::linear(d, x, n, y, d.rows, bias, stream_);
  }
  void linear_group(const LinearJob* jobs, int count, const float* x, int64_t n) override {
    for (int j = 0; j < count; ++j) linear(*jobs[j].w, x, n, jobs[j].y, jobs[j].bias);
  }
  void embedding(const Tensor& table, const int32_t* ids, int64_t n, float* out, float scale) override {
    cuda::embedding(weight(table), ids, n, out, scale, stream_);
  }
  void rms_norm(const float* x, const float* w, int64_t n, int64_t dim, float eps, bool plus_one, float* out) override {
    cuda::rms_norm(x, w, n, dim, eps, plus_one, out, stream_);
  }
  void rope_table(const RopeConfig& rope, const int64_t* positions, int64_t n, float* table) override {
    const float* inv = stage(rope.inv_freq.data(), rope.inv_freq.size() * sizeof(float));
    cuda::rope_table(positions, n, inv, rope.rotary_dim, rope.attention_scale, table, stream_);
  }
  void rope(float* x, int64_t n, int64_t heads, int64_t head_dim, const RopeConfig& rope, const float* table) override {
    cuda::rope(x, n, heads, head_dim, rope.rotary_dim, rope.interleaved, table, stream_);
  }
  void kv_append(const KVAppendSeq* seqs, int64_t count, int64_t kv_heads, int64_t head_dim) override {
    for (int64_t s = 0; s < count; ++s) {
      const KVAppendSeq& q = seqs[s];
      if (q.n == 0) continue;
      cuda::kv_append(device_kv(q.kv, q.pos0 + q.n), q.k, q.v, q.n, q.pos0, kv_heads, head_dim, stream_);
    }
  }
  void attention(const AttentionSeq* seqs, int64_t count, const AttentionParams& p) override {
    const DeviceAttention dp{p.heads, p.kv_heads, p.head_dim, p.scale, p.softcap, p.window, p.sinks};
    for (int64_t s = 0; s < count; ++s) {
      const AttentionSeq& q = seqs[s];
      if (q.n == 0) continue;
      cuda::attention(device_kv(q.kv, q.pos0 + q.n), q.q, q.out, q.n, q.pos0, dp, stream_);
    }
  }
  void gated_activation(const float* gate, const float* up, int64_t count, Activation act, float* out,
                        float limit) override {
    cuda::gated_activation(gate, up, count, int(act), out, limit, stream_);
  }
  void add(float* y, const float* x, int64_t count) override { cuda::add(y, x, count, stream_); }
  void softcap(float* x, int64_t count, float cap) override { cuda::softcap(x, count, cap, stream_); }
  void scale(float* x, int64_t count, float factor) override { cuda::scale(x, count, factor, stream_); }
  void gather_rows(const float* src, const int32_t* rows, int64_t count, int64_t dim, float* out) override {
    cuda::gather_rows(src, rows, count, dim, out, stream_);
  }
  void moe_route(const float* logits, int64_t n, int64_t experts, int64_t top_k, bool renormalize, int32_t* chosen,
                 float* weights) override {
    cuda::moe_route(logits, n, experts, top_k, renormalize, chosen, weights, stream_);
  }
  void moe_combine(const float* src, const int32_t* slots, int64_t count, int64_t dim, int64_t top_k,
                   const float* weights, float* out) override {
    cuda::moe_combine(src, slots, count, dim, top_k, weights, out, stream_);
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

  const DeviceWeight& weight(const Tensor& w) {
    auto it = resident_.find(w.data);
    if (it == resident_.end())
      throw InvalidArgumentError("CUDA backend: tensor '" + w.name + "' was not made resident on " + domain_);
    return it->second.w;
  }

  void sync() { check(cudaStreamSynchronize(stream_), "cudaStreamSynchronize"); ring_used_ = 0; }

  // Copies `bytes` of host data to device memory that stays valid until the
  // next synchronisation of the stream (the ring is reused after one).
  template <class T>
  const T* stage_as(const void* src, size_t bytes) {
    const size_t need = (bytes + 255) / 256 * 256;
    if (need > kRingBytes) throw InvalidArgumentError("CUDA backend: a staged table of " + std::to_string(bytes) + " bytes");
    if (ring_used_ + need > kRingBytes) sync();
    std::memcpy(ring_host_ + ring_used_, src, bytes);
    check(cudaMemcpyAsync(ring_dev_ + ring_used_, ring_host_ + ring_used_, bytes, cudaMemcpyHostToDevice, stream_),
          "stage");
    const T* p = reinterpret_cast<const T*>(ring_dev_ + ring_used_);
    ring_used_ += need;
    return p;
  }
  const float* stage(const float* src, size_t bytes) { return stage_as<float>(src, bytes); }

  // The view's block table (host array of device block addresses) staged on the device.
  DeviceKV device_kv(const KVLayerView& v, int64_t positions) {
    const int64_t blocks = (positions + v.block - 1) / v.block;
    DeviceKV d;
    d.blocks = stage_as<const uint8_t*>(v.blocks, size_t(blocks) * sizeof(uint8_t*));
    d.k_offset = v.k_offset;
    d.v_offset = v.v_offset;
    d.block = v.block;
    d.head_stride = v.head_stride;
    d.row_bytes = v.row_bytes;
    d.type = int32_t(v.type);
    return d;
  }

  static constexpr size_t kRingBytes = size_t(4) << 20;
  int device_;
  cudaStream_t stream_ = nullptr;
  uint8_t* ring_host_ = nullptr;
  uint8_t* ring_dev_ = nullptr;
  size_t ring_used_ = 0;
  std::string domain_;
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
