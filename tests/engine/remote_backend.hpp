#pragma once
// A backend whose memory the host cannot touch, to prove the decoder never
// reads or writes activations, KV blocks or weights itself.
//
// Its "device addresses" lie in a reserved PROT_NONE range of the address
// space: any host dereference of one (the decoder reading a logit, encoding a
// KV row, summing MoE outputs) is a segmentation fault. The bytes really live
// in a second, private mapping at the same offsets; every op translates its
// pointers there and runs the CPU backend on them. An op handed a pointer
// outside the device range (host memory where backend memory belongs) throws.
// It also counts what crosses the boundary, so tests can check that only the
// small things (ids, positions, logits, expert ids) do. Like a GPU backend it
// hands out host memory of its own for downloads (BackendHostMemory), and
// counts the bytes downloaded into it.
#include <sys/mman.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <new>
#include <stdexcept>
#include <string>
#include <vector>

#include "allm/compute.hpp"
#include "allm/error.hpp"
#include "allm/weight_format.hpp"

namespace allm::test {

class RemoteBackend final : public Backend, public BackendDeviceMemory, public BackendHostMemory {
 public:
  static constexpr size_t kSpan = size_t{1} << 30;  // address space reserved (not committed)

  explicit RemoteBackend(int threads = 2) : inner_(make_cpu_backend(threads)) {
    device_ = static_cast<uint8_t*>(
        mmap(nullptr, kSpan, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0));
    store_ = static_cast<uint8_t*>(
        mmap(nullptr, kSpan, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0));
    if (device_ == MAP_FAILED || store_ == MAP_FAILED) throw std::runtime_error("remote backend: mmap failed");
  }
  ~RemoteBackend() override {
    munmap(device_, kSpan);
    munmap(store_, kSpan);
  }

  const char* name() const override { return "remote-test"; }
  int threads() const override { return inner_->threads(); }

  // ---- memory: a bump allocator over the device range ----------------------
  void* alloc(size_t bytes) override {
    std::lock_guard lock(mutex_);
    const size_t size = (std::max<size_t>(bytes, 1) + 63) / 64 * 64;
    if (next_ + size > kSpan) throw std::runtime_error("remote backend: out of device space");
    if (live_bytes_ + bytes > capacity_) throw OutOfMemoryError("remote backend: out of device memory");
    live_bytes_ += bytes;
    uint8_t* p = device_ + next_;
    next_ += size;
    live_[p] = bytes;
    return p;
  }
  void free(void* p) noexcept override {
    std::lock_guard lock(mutex_);
    if (!p) return;
    const auto it = live_.find(static_cast<uint8_t*>(p));
    if (it == live_.end()) {
      bad_frees_++;
      return;
    }
    live_bytes_ -= it->second;
    live_.erase(it);
  }
  void upload(void* dst, const void* src, size_t bytes) override {
    std::memcpy(real(dst, bytes), src, bytes);
    uploaded_ += bytes;
  }
  void download(void* dst, const void* src, size_t bytes) override {
    std::memcpy(dst, real(src, bytes), bytes);
    downloaded_ += bytes;
    if (in_host_memory(dst, bytes)) downloaded_to_host_memory_ += bytes;
  }
  // ---- host memory of its own (as a GPU's page-locked memory) --------------
  void* alloc_host(size_t bytes) override {
    std::lock_guard lock(mutex_);
    auto* p = static_cast<uint8_t*>(::operator new(std::max<size_t>(bytes, 1), std::align_val_t{64}));
    host_live_[p] = bytes;
    return p;
  }
  void free_host(void* p) noexcept override {
    std::lock_guard lock(mutex_);
    if (!p) return;
    if (host_live_.erase(static_cast<uint8_t*>(p)) == 0) {
      bad_frees_++;
      return;
    }
    ::operator delete(p, std::align_val_t{64});
  }
  void copy(void* dst, const void* src, size_t bytes) override { std::memmove(real(dst, bytes), real(src, bytes), bytes); }
  void zero(void* dst, size_t bytes) override { std::memset(real(dst, bytes), 0, bytes); }
  std::string memory_domain() const override { return "remote-test@" + std::to_string(reinterpret_cast<uintptr_t>(this)); }

  // ---- weights: copied into device memory ----------------------------------
  Tensor make_resident(const Tensor& w) override {
    Tensor r = w;
    r.data = place(w.data, w.nbytes);
    if (w.dtype == DType::MLX_AFFINE) {
      const size_t side = static_cast<size_t>(w.rows() * (w.cols() / w.group_size)) *
                          (w.scale_dtype == DType::F32 ? 4 : 2);
      r.scales = place(w.scales, side);
      r.biases = place(w.biases, side);
    }
    ++resident_;
    return r;
  }
  void release_resident(const Tensor& r) noexcept override {
    free(const_cast<void*>(r.data));
    if (r.dtype == DType::MLX_AFFINE) {
      free(const_cast<void*>(r.scales));
      free(const_cast<void*>(r.biases));
    }
    --resident_;
  }

  // ---- ops: pointers translated, then the CPU backend ----------------------
  void linear(const Tensor& w, const float* x, int64_t n, float* y, const float* bias) override {
    inner_->linear(weights(w), in(x), n, out(y), in(bias));
  }
  void linear_group(const LinearJob* jobs, int count, const float* x, int64_t n) override {
    std::vector<Tensor> ws(static_cast<size_t>(count));
    std::vector<LinearJob> local(static_cast<size_t>(count));
    for (int j = 0; j < count; ++j) {
      ws[j] = weights(*jobs[j].w);
      local[j] = {&ws[j], out(jobs[j].y), in(jobs[j].bias)};
    }
    inner_->linear_group(local.data(), count, in(x), n);
  }
  void embedding(const Tensor& table, const int32_t* ids, int64_t n, float* o, float scale) override {
    inner_->embedding(weights(table), in(ids), n, out(o), scale);
  }
  void rms_norm(const float* x, const float* w, int64_t n, int64_t dim, float eps, bool plus_one, float* o) override {
    inner_->rms_norm(in(x), in(w), n, dim, eps, plus_one, out(o));
  }
  void rope_table(const RopeConfig& rope, const int64_t* positions, int64_t n, float* table) override {
    inner_->rope_table(rope, in(positions), n, out(table));
  }
  void rope(float* x, int64_t n, int64_t heads, int64_t head_dim, const RopeConfig& r, const float* table) override {
    inner_->rope(out(x), n, heads, head_dim, r, in(table));
  }
  void kv_append(const KVAppendSeq* seqs, int64_t count, int64_t kv_heads, int64_t head_dim) override {
    std::vector<std::vector<uint8_t*>> tables;
    std::vector<KVAppendSeq> local(seqs, seqs + count);
    for (auto& s : local) {
      s.k = in(s.k);
      s.v = in(s.v);
      s.kv = view(s.kv, s.pos0 + s.n, tables);
    }
    inner_->kv_append(local.data(), count, kv_heads, head_dim);
  }
  void attention(const AttentionSeq* seqs, int64_t count, const AttentionParams& p) override {
    std::vector<std::vector<uint8_t*>> tables;
    std::vector<AttentionSeq> local(seqs, seqs + count);
    for (auto& s : local) {
      s.q = in(s.q);
      s.out = out(s.out);
      s.kv = view(s.kv, s.pos0 + s.n, tables);
    }
    AttentionParams lp = p;
    lp.sinks = in(p.sinks);
    inner_->attention(local.data(), count, lp);
  }
  void gated_activation(const float* gate, const float* up, int64_t count, Activation act, float* o,
                        float limit) override {
    inner_->gated_activation(in(gate), in(up), count, act, out(o), limit);
  }
  void add(float* y, const float* x, int64_t count) override { inner_->add(out(y), in(x), count); }
  void softcap(float* x, int64_t count, float cap) override { inner_->softcap(out(x), count, cap); }
  void scale(float* x, int64_t count, float factor) override { inner_->scale(out(x), count, factor); }
  void gather_rows(const float* src, const int32_t* rows, int64_t count, int64_t dim, float* o) override {
    inner_->gather_rows(in(src), in(rows), count, dim, out(o));
  }
  void moe_route(const float* logits, int64_t n, int64_t experts, int64_t top_k, bool renormalize, int32_t* chosen,
                 float* w) override {
    inner_->moe_route(in(logits), n, experts, top_k, renormalize, out(chosen), out(w));
  }
  void moe_combine(const float* src, const int32_t* slots, int64_t count, int64_t dim, int64_t top_k,
                   const float* w, float* o) override {
    inner_->moe_combine(in(src), in(slots), count, dim, top_k, in(w), out(o));
  }

  // A device of `capacity` bytes (the span by default): device_memory()
  // reports what is left of it, and alloc past it is OutOfMemoryError.
  void set_capacity(uint64_t capacity) { capacity_ = capacity; }
  Info device_memory() const override {
    std::lock_guard lock(mutex_);
    return Info{capacity_ > live_bytes_ ? capacity_ - live_bytes_ : 0, capacity_};
  }

  // ---- what the tests look at ----------------------------------------------
  size_t live_allocations() const {
    std::lock_guard lock(mutex_);
    return live_.size();
  }
  int resident() const { return resident_; }
  uint64_t live_bytes() const {
    std::lock_guard lock(mutex_);
    return live_bytes_;
  }
  int bad_frees() const { return bad_frees_; }
  uint64_t downloaded() const { return downloaded_; }
  uint64_t downloaded_to_host_memory() const { return downloaded_to_host_memory_; }
  size_t live_host_allocations() const {
    std::lock_guard lock(mutex_);
    return host_live_.size();
  }
  uint64_t uploaded() const { return uploaded_; }
  bool in_device(const void* p) const {
    return p >= static_cast<const void*>(device_) && p < static_cast<const void*>(device_ + next_);
  }

 private:
  // Whether [p, p + bytes) lies in one of alloc_host's blocks.
  bool in_host_memory(const void* p, size_t bytes) const {
    std::lock_guard lock(mutex_);
    auto* b = static_cast<const uint8_t*>(p);
    auto it = host_live_.upper_bound(const_cast<uint8_t*>(b));
    if (it == host_live_.begin()) return false;
    --it;
    return b + bytes <= it->first + it->second;
  }
  // The store address of device pointer p, checking that [p, p + bytes) lies in one allocation's range.
  template <class T>
  T* real(T* p, size_t bytes = 0) const {
    if (!p) return nullptr;
    auto* b = reinterpret_cast<const uint8_t*>(p);
    if (b < device_ || b + bytes > device_ + next_)
      throw std::logic_error("remote backend: a host pointer was passed where backend memory belongs");
    return reinterpret_cast<T*>(store_ + (b - device_));
  }
  template <class T>
  const T* in(const T* p) const { return real(p); }
  template <class T>
  T* out(T* p) const { return real(p); }

  const void* place(const void* host, size_t bytes) {
    if (!host) return nullptr;
    void* p = alloc(bytes);
    upload(p, host, bytes);
    return p;
  }
  Tensor weights(const Tensor& w) const {
    Tensor r = w;
    r.data = real(w.data);
    r.scales = real(w.scales);
    r.biases = real(w.biases);
    return r;
  }
  // The view with its host block table translated (positions [0, positions)).
  KVLayerView view(const KVLayerView& kv, int64_t positions, std::vector<std::vector<uint8_t*>>& keep) const {
    const int64_t blocks = (positions + kv.block - 1) / kv.block;
    auto& table = keep.emplace_back(static_cast<size_t>(blocks));
    for (int64_t b = 0; b < blocks; ++b) table[b] = real(kv.blocks[b]);
    KVLayerView r = kv;
    r.blocks = table.data();
    return r;
  }

  std::shared_ptr<Backend> inner_;
  uint8_t* device_ = nullptr;  // PROT_NONE: what the decoder sees
  uint8_t* store_ = nullptr;   // where the bytes are
  mutable std::mutex mutex_;
  size_t next_ = 0;
  std::map<uint8_t*, size_t> live_;
  uint64_t live_bytes_ = 0, capacity_ = kSpan;
  int resident_ = 0, bad_frees_ = 0;
  uint64_t downloaded_ = 0, uploaded_ = 0, downloaded_to_host_memory_ = 0;
  std::map<uint8_t*, size_t> host_live_;  // alloc_host's blocks
};

}  // namespace allm::test
