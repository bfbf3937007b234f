// AVX-512 VNNI matmul of GGUF block rows by int8 activations (gemm.hpp):
// the activation quantiser, the entry points and the dispatch between the
// row-at-a-time kernels (one token, file layout), gemm_stored.cpp (several
// tokens, file layout) and gemm_interleaved.cpp (matrices interleaved at load).
#include "gguf/gemm.hpp"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <string>

#include "allm/error.hpp"
#include "allm/gguf.hpp"
#include "gguf/codes.hpp"
#include "gguf/dot_q8_x86.hpp"
#include "gguf/gemm_vnni.hpp"
#include "gguf/interleave.hpp"
#include "gguf/types.hpp"
#include "kernels/cpu_features.hpp"

#if defined(__x86_64__)

namespace allm::gguf::detail {
using namespace vnni_gemm;

namespace {

// ----------------------------------------------------------------- activations

K_FN void quantize_token(const float* x, int64_t cols, int64_t cols_pad, int8_t* q, float* block_scale,
                         float* sum16, float* sum32, int16_t* block_sum) {
  for (int64_t b = 0; b < cols / 32; ++b) {
    const __m512 v0 = _mm512_loadu_ps(x + 32 * b), v1 = _mm512_loadu_ps(x + 32 * b + 16);
    const float amax = _mm512_reduce_max_ps(_mm512_max_ps(_mm512_abs_ps(v0), _mm512_abs_ps(v1)));
    const float d = amax / 127.f, id = d != 0 ? 1.f / d : 0.f;
    const __m512i i0 = _mm512_cvtps_epi32(_mm512_mul_ps(v0, _mm512_set1_ps(id)));
    const __m512i i1 = _mm512_cvtps_epi32(_mm512_mul_ps(v1, _mm512_set1_ps(id)));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(q + 32 * b), _mm512_cvtsepi32_epi8(i0));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(q + 32 * b + 16), _mm512_cvtsepi32_epi8(i1));
    const int s0 = _mm512_reduce_add_epi32(i0), s1 = _mm512_reduce_add_epi32(i1);
    block_scale[b] = d;
    sum16[2 * b] = d * float(s0);
    sum16[2 * b + 1] = d * float(s1);
    sum32[b] = d * float(s0 + s1);
    block_sum[2 * b] = int16_t(s0);
    block_sum[2 * b + 1] = int16_t(s1);
  }
  const int64_t b0 = cols / 32, b1 = cols_pad / 32;
  std::memset(q + cols, 0, size_t(cols_pad - cols));
  std::fill(block_scale + b0, block_scale + b1, 0.f);
  std::fill(sum16 + 2 * b0, sum16 + 2 * b1, 0.f);
  std::fill(sum32 + b0, sum32 + b1, 0.f);
  std::fill(block_sum + 2 * b0, block_sum + 2 * b1, int16_t(0));
}


K_FN void prepare_all(const float* x, const Activations& a) {
  const int64_t nb = a.blocks();
  for (int64_t t = 0; t < a.n; ++t)
    quantize_token(x + t * a.cols, a.cols, a.cols_pad, a.q + t * a.cols_pad, a.block_scale + t * nb,
                   a.sum16 + t * 2 * nb, a.sum32 + t * nb, a.block_sum + t * 2 * nb);
}

#undef K_FN

bool cpu_has_vnni() {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
         __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512vnni") &&
         kernels::cpu_has_f16c() && __builtin_cpu_supports("fma");
}

}  // namespace

bool vnni_gemm_available() noexcept {
  static const bool on = [] {
    const char* env = std::getenv("ALLM_GGUF_GEMM");
    return cpu_has_vnni() && !(env && std::string(env) == "off");
  }();
  return on;
}

bool vnni_gemm_supports(DType t) noexcept { return decoded_block_elems(stored_type(t)) != 0; }

size_t vnni_prepared_bytes(int64_t n, int64_t cols) {
  const int64_t cp = pad64(cols);
  // codes, then per 32-block: scale, two sum16, sum32 (floats) and two int16 sums
  return sizeof(Header) + size_t(n * cp) + size_t(n * cp / 32) * (4 * 4 + 2 * 2);
}

void vnni_prepare(const float* x, int64_t n, int64_t cols, void* prepared) {
  if (cols % 32 != 0)
    throw InvalidArgumentError("gguf matmul: activation length " + std::to_string(cols) + " is not a multiple of 32");
  auto* h = static_cast<Header*>(prepared);
  *h = Header{n, cols, pad64(cols), {}};
  prepare_all(x, view(prepared));
}

void vnni_matmul(const Tensor& w, int64_t r0, int64_t r1, const void* prepared, float* y, int64_t ldy) {
  const Activations a = view(prepared);
  const int64_t cols = w.cols();
  const int per = decoded_block_elems(stored_type(w.dtype));
  if (cols != a.cols || per == 0 || cols % per != 0)
    throw InvalidArgumentError("tensor '" + w.name + "': gguf matmul of " + std::to_string(cols) + " columns (" +
                               format_name(w.dtype) + ") by activations of length " + std::to_string(a.cols));
  const auto* base = static_cast<const uint8_t*>(w.data);
  if (is_interleaved(w.dtype)) {
    const int64_t blocks = cols / per;
    const size_t panel_bytes = size_t(blocks) * 16 * dtype_block_bytes(w.dtype);
    matmul_interleaved(w.dtype, base, blocks, panel_bytes, r0, r1, a, y, ldy);
    return;
  }
  const size_t stride = row_bytes(w.dtype, cols);
  if (a.n == 1) {
    // One token: nothing to share a decoded row with, so the row-at-a-time
    // integer kernels (no panel round trip) are faster.
    const Q8View x = a.token(0);
    for (int64_t r = r0; r < r1; ++r) y[r] = dot_row_q8_unchecked(w.dtype, base + size_t(r) * stride, x, cols);
    return;
  }
  matmul_stored(w.dtype, base, stride, r0, r1, a, y, ldy);
}

}  // namespace allm::gguf::detail

#else  // not x86-64: the row-at-a-time kernels serve every CPU

namespace allm::gguf::detail {
bool vnni_gemm_available() noexcept { return false; }
bool vnni_gemm_supports(DType) noexcept { return false; }
size_t vnni_prepared_bytes(int64_t, int64_t) { return 0; }
void vnni_prepare(const float*, int64_t, int64_t, void*) { throw UnsupportedError("gguf matmul: needs x86-64"); }
void vnni_matmul(const Tensor&, int64_t, int64_t, const void*, float*, int64_t) {
  throw UnsupportedError("gguf matmul: needs x86-64");
}
}  // namespace allm::gguf::detail

#endif
