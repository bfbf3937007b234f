// AVX2 + FMA + F16C instantiation of the x86 kernels, plus the activation quantiser.
#if defined(__x86_64__) || defined(__i386__)
#include <cmath>

#include <immintrin.h>

#include <cstring>

#include "gguf/blocks.hpp"
#include "gguf/dot_q8_x86.hpp"

namespace allm::gguf::detail::avx2 {

#define ALLM_KTARGET "avx2,fma,f16c"
#define ALLM_KVNNI 0
#include "gguf/dot_q8_kernels.inc"

__attribute__((target("avx2,fma,f16c"))) bool quantize_activations(const float* x, int64_t n,
                                                                  QuantizedActivations& out) {
  const __m256 sign = _mm256_set1_ps(-0.0f);
  const __m256i perm = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
  for (int64_t b = 0; b < n / 32; ++b) {
    const float* xb = x + 32 * b;
    __m256 v[4];
    __m256 amax = _mm256_setzero_ps();
    for (int k = 0; k < 4; ++k) {
      v[k] = _mm256_loadu_ps(xb + 8 * k);
      amax = _mm256_max_ps(amax, _mm256_andnot_ps(sign, v[k]));
    }
    __m128 m = _mm_max_ps(_mm256_castps256_ps128(amax), _mm256_extractf128_ps(amax, 1));
    m = _mm_max_ps(m, _mm_movehl_ps(m, m));
    m = _mm_max_ss(m, _mm_movehdup_ps(m));
    float d = _mm_cvtss_f32(m) / 127.f, id = d ? 1.f / d : 0.f;
    out.scale[size_t(b)] = d;
    __m256 idv = _mm256_set1_ps(id);
    __m256i i[4];
    for (int k = 0; k < 4; ++k) i[k] = _mm256_cvtps_epi32(_mm256_mul_ps(v[k], idv));
    __m256i s01 = _mm256_packs_epi32(i[0], i[1]), s23 = _mm256_packs_epi32(i[2], i[3]);
    __m256i bytes = _mm256_permutevar8x32_epi32(_mm256_packs_epi16(s01, s23), perm);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(out.q.data() + 32 * b), bytes);
    // per-16 sums: sum the int32 lanes of each half
    __m256i lo = _mm256_add_epi32(i[0], i[1]), hi = _mm256_add_epi32(i[2], i[3]);
    __m128i l4 = _mm_add_epi32(_mm256_castsi256_si128(lo), _mm256_extracti128_si256(lo, 1));
    __m128i h4 = _mm_add_epi32(_mm256_castsi256_si128(hi), _mm256_extracti128_si256(hi, 1));
    __m128i both = _mm_hadd_epi32(_mm_hadd_epi32(l4, h4), _mm_setzero_si128());
    out.bsum[size_t(2 * b)] = int16_t(_mm_extract_epi32(both, 0));
    out.bsum[size_t(2 * b + 1)] = int16_t(_mm_extract_epi32(both, 1));
  }
  return true;
}

}  // namespace allm::gguf::detail::avx2
#endif
