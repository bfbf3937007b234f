// The AVX-512 attention inner loops (scores of a block of cached positions for
// every query head of a KV head, and the weighted sum of their values) against
// a double-precision reference: F32 and F16 rows with a stride past the head
// (as the KV blocks store keys and values side by side), odd block lengths
// (the scores go four positions at a time) and group sizes.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "kernels/attention_kernels.hpp"
#include "kernels/kernel_table.hpp"

namespace allm::kernels {
namespace {

uint16_t to_f16(float f) {  // |f| < 2, normal or zero halves, rounded to nearest
  if (f == 0) return 0;
  const uint16_t sign = f < 0 ? 0x8000 : 0;
  int e;
  const float m = std::frexp(std::fabs(f), &e);
  if (e - 1 < -14) return sign;
  long q = std::lround(std::ldexp(m, 11));
  if (q == 2048) q = 1024, ++e;
  return static_cast<uint16_t>(sign | ((e - 1 + 15) << 10) | (q - 1024));
}

#if defined(__x86_64__)
TEST(AttentionKernels, ScoresAndValuesMatchReference) {
  if (std::strcmp(active().name, "avx512") != 0) GTEST_SKIP() << "AVX-512 table not active";
  std::mt19937 rng(5);
  std::uniform_real_distribution<float> dist(-1, 1);
  for (bool f16 : {false, true})
    for (int64_t d : {64, 128, 256})
      for (int64_t group : {1, 2, 3, 5})
        for (int64_t len : {1, 3, 4, 7, 33}) {
          const int64_t elem = f16 ? 2 : 4, row_bytes = (2 * d + 8) * elem;  // key, value, padding
          std::vector<uint8_t> rows(size_t(len * row_bytes));
          std::vector<double> key(size_t(len * d)), value(size_t(len * d));
          for (int64_t j = 0; j < len; ++j)
            for (int64_t c = 0; c < 2 * d; ++c) {
              const float v = dist(rng);
              uint8_t* at = rows.data() + j * row_bytes + c * elem;
              double stored = v;
              if (f16) {
                const uint16_t h = to_f16(v);
                std::memcpy(at, &h, 2);
                stored = f16_to_float(h);
              } else {
                std::memcpy(at, &v, 4);
              }
              (c < d ? key[size_t(j * d + c)] : value[size_t(j * d + c - d)]) = stored;
            }
          std::vector<float> q(size_t(group * d));
          for (auto& v : q) v = dist(rng);
          const int64_t lds = len + 2;
          std::vector<float> s(size_t(group * lds), NAN);
          attn::scores(rows.data(), row_bytes, f16, len, q.data(), group, d, s.data(), lds);
          std::vector<float> acc(size_t(group * d));
          for (auto& v : acc) v = dist(rng);
          std::vector<double> expect(acc.begin(), acc.end());
          attn::values(rows.data() + d * elem, row_bytes, f16, len, s.data(), lds, group, d, acc.data());
          for (int64_t h = 0; h < group; ++h)
            for (int64_t j = 0; j < len; ++j) {
              double dot = 0;
              for (int64_t c = 0; c < d; ++c) dot += key[size_t(j * d + c)] * q[size_t(h * d + c)];
              ASSERT_NEAR(s[size_t(h * lds + j)], dot, 1e-4)
                  << "scores f16=" << f16 << " d=" << d << " group=" << group << " len=" << len;
              for (int64_t c = 0; c < d; ++c)
                expect[size_t(h * d + c)] += double(s[size_t(h * lds + j)]) * value[size_t(j * d + c)];
            }
          for (size_t i = 0; i < acc.size(); ++i)
            ASSERT_NEAR(acc[i], expect[i], 1e-4) << "values f16=" << f16 << " d=" << d << " group=" << group
                                                 << " len=" << len << " at " << i;
        }
}
#endif

}  // namespace
}  // namespace allm::kernels
