// A weight format per GGUF block type, so the engine's matmuls run on the
// stored blocks (registered by the GGUF loader plugin: gguf.hpp): with AVX-512
// VNNI, one batched int8 kernel for any token count (gemm.hpp), on Q4_0 /
// Q4_K / Q6_K / Q8_0 matrices interleaved by 16 rows at load (interleave.hpp);
// elsewhere integer dot products against Q8-quantised activations for one
// token and row dequantisation for many. Also the GGUF loader's file test.
#include <cstring>
#if defined(__linux__)
#include <sys/mman.h>
#endif
#include <fstream>
#include <mutex>
#include <new>
#include <vector>

#include "allm/gguf.hpp"
#include "allm/weight_format.hpp"
#include "gguf/gemm.hpp"
#include "gguf/interleave.hpp"

namespace allm::gguf {
namespace {

// The activation vector quantised once per thread and reused while the same
// x comes back (the engine calls dot_rows many times per matmul, a few rows each).
struct ActivationCache {
  std::vector<float> x;
  QuantizedActivations q;
};

const QuantizedActivations& quantized(const float* x, int64_t n) {
  thread_local ActivationCache cache;
  if (int64_t(cache.x.size()) != n || std::memcmp(cache.x.data(), x, size_t(n) * sizeof(float)) != 0) {
    cache.x.assign(x, x + n);
    quantize_activations(x, n, cache.q);
  }
  return cache.q;
}

void dot_rows(const Tensor& w, int64_t r0, int64_t r1, const float* x, float* y) {
  const int64_t cols = w.cols();
  const size_t stride = row_bytes(w.dtype, cols);
  const auto* base = static_cast<const uint8_t*>(w.data);
  if (cols % 32 == 0) {
    const auto& q = quantized(x, cols);
    for (int64_t r = r0; r < r1; ++r) y[r - r0] = dot_row_q8(w.dtype, base + size_t(r) * stride, q, cols);
  } else {
    for (int64_t r = r0; r < r1; ++r) y[r - r0] = dot_row_f32(w.dtype, base + size_t(r) * stride, x, cols);
  }
}

void dequant_rows(const Tensor& w, int64_t r0, int64_t r1, float* out) {
  const int64_t cols = w.cols();
  const size_t stride = row_bytes(w.dtype, cols);
  const auto* base = static_cast<const uint8_t*>(w.data);
  for (int64_t r = r0; r < r1; ++r) dequantize_row(w.dtype, base + size_t(r) * stride, out + (r - r0) * cols, cols);
}

// Interleaved matrices (interleave.hpp): only the batched kernel reads them
// fast; single rows (embedding lookups) are decoded in portable code.
void dot_rows_interleaved(const Tensor& w, int64_t r0, int64_t r1, const float* x, float* y) {
  std::vector<float> row(size_t(w.cols()));
  for (int64_t r = r0; r < r1; ++r) {
    detail::dequantize_interleaved(w, r, r + 1, row.data());
    double sum = 0;
    for (int64_t i = 0; i < w.cols(); ++i) sum += double(row[size_t(i)]) * x[i];
    y[r - r0] = float(sum);
  }
}

void dequant_rows_interleaved(const Tensor& w, int64_t r0, int64_t r1, float* out) {
  detail::dequantize_interleaved(w, r0, r1, out);
}

// Memory for a repacked matrix, owned by `owner`. Large buffers are asked to
// be backed by 2 MiB pages: hundreds of MiB are written once at load (4 KiB
// page faults would dominate the load) and then streamed every token (fewer
// TLB misses).
void* allocate_large(size_t bytes, std::shared_ptr<void>& owner) {
#if defined(__linux__)
  constexpr size_t kHuge = size_t(2) << 20;
  if (bytes >= kHuge) {
    const size_t size = (bytes + kHuge - 1) / kHuge * kHuge;
    void* p = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p != MAP_FAILED) {
      ::madvise(p, size, MADV_HUGEPAGE);  // a hint: 4 KiB pages still work
      owner = std::shared_ptr<void>(p, [size](void* q) { ::munmap(q, size); });
      return p;
    }
  }
#endif
  auto* p = new (std::align_val_t(64)) uint8_t[bytes];
  owner = std::shared_ptr<void>(p, [](void* q) { ::operator delete[](static_cast<uint8_t*>(q), std::align_val_t(64)); });
  return p;
}

bool repack_interleaved(const Tensor& w, std::shared_ptr<void>& storage, Tensor& out) {
  if (!detail::can_interleave(w)) return false;
  out = w;
  out.dtype = interleaved_type(w.dtype);
  out.nbytes = size_t(w.rows()) * size_t(row_bytes(out));
  auto* bytes = static_cast<uint8_t*>(allocate_large(out.nbytes, storage));
  detail::interleave(w, bytes);
  out.data = bytes;
  return true;
}

void register_all() {
  for (DType t : {DType::Q4_0, DType::Q4_1, DType::Q5_0, DType::Q5_1, DType::Q8_0, DType::Q2_K, DType::Q3_K,
                  DType::Q4_K, DType::Q5_K, DType::Q6_K, DType::MXFP4}) {
    WeightFormat f{t, dot_rows, dequant_rows};
    if (detail::vnni_gemm_available()) {  // every token count through the batched int8 kernel
      f.prepared_bytes = detail::vnni_prepared_bytes;
      f.prepare = detail::vnni_prepare;
      f.matmul = detail::vnni_matmul;
      if (interleaved_type(t) != t) f.repack = repack_interleaved;
    }
    register_weight_format(f);
  }
  if (detail::vnni_gemm_available())
    for (DType t : {DType::Q4_0_X16, DType::Q4_K_X16, DType::Q6_K_X16, DType::Q8_0_X16}) {
      WeightFormat f{t, dot_rows_interleaved, dequant_rows_interleaved};
      f.prepared_bytes = detail::vnni_prepared_bytes;
      f.prepare = detail::vnni_prepare;
      f.matmul = detail::vnni_matmul;
      register_weight_format(f);
    }
}

}  // namespace

bool looks_like_gguf(const std::filesystem::path& path) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) return false;
  if (path.extension() == ".gguf") return true;
  std::ifstream f(path, std::ios::binary);
  char magic[4] = {};
  return f.read(magic, 4) && std::memcmp(magic, "GGUF", 4) == 0;
}

void register_weight_formats() {
  static std::once_flag once;
  std::call_once(once, register_all);
}

}  // namespace allm::gguf
