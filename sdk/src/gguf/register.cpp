// Hooks the GGUF code into the rest of the SDK at load time: the `.gguf`
// checkpoint loader, and a weight format per GGUF block type so the engine's
// matmuls run on the stored blocks: with AVX-512 VNNI, one batched int8 kernel
// for any token count (gemm.hpp); elsewhere integer dot products against
// Q8-quantised activations for one token and row dequantisation for many.
#include <cstring>
#include <fstream>

#include "allm/gguf.hpp"
#include "allm/model_loader.hpp"
#include "allm/weight_format.hpp"
#include "gguf/gemm.hpp"

namespace allm::gguf {
namespace {

bool looks_like_gguf(const std::filesystem::path& path) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) return false;
  if (path.extension() == ".gguf") return true;
  std::ifstream f(path, std::ios::binary);
  char magic[4] = {};
  return f.read(magic, 4) && std::memcmp(magic, "GGUF", 4) == 0;
}

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

const bool registered = [] {
  for (DType t : {DType::Q4_0, DType::Q4_1, DType::Q5_0, DType::Q5_1, DType::Q8_0, DType::Q2_K, DType::Q3_K,
                  DType::Q4_K, DType::Q5_K, DType::Q6_K}) {
    WeightFormat f{t, dot_rows, dequant_rows};
    if (detail::vnni_gemm_available()) {  // every token count through the batched int8 kernel
      f.prepared_bytes = detail::vnni_prepared_bytes;
      f.prepare = detail::vnni_prepare;
      f.matmul = detail::vnni_matmul;
    }
    register_weight_format(f);
  }
  register_checkpoint_loader("gguf", looks_like_gguf,
                             [](const std::filesystem::path& p) { return load_checkpoint(p); });
  return true;
}();

}  // namespace
}  // namespace allm::gguf
