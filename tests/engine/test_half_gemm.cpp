// The F16/BF16 matrix kernels — the multi-row matrix-vector product of every
// SIMD table and, where the CPU has AMX-BF16, the tile matmul behind several
// tokens — against a double-precision reference, over shapes that are not
// multiples of the kernels' blocks (4 rows, 16 rows, 16 tokens, 32 columns).
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "allm/compute.hpp"
#include "allm/weight_format.hpp"
#include "kernels/gemm_amx.hpp"
#include "kernels/kernel_table.hpp"

namespace allm::kernels {
namespace {

uint16_t to_bf16(float f) {  // round to nearest even
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return static_cast<uint16_t>((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
}

uint16_t to_f16(float f) {  // |f| < 2 here: normal halves or zero, rounded to nearest
  if (f == 0) return 0;
  const uint16_t sign = f < 0 ? 0x8000 : 0;
  int e;
  const float m = std::frexp(std::fabs(f), &e);  // |f| = m * 2^e, m in [0.5, 1)
  if (e - 1 < -14) return sign;                  // below the normal range: flush (not generated)
  long q = std::lround(std::ldexp(m, 11));       // 11 significant bits
  if (q == 2048) q = 1024, ++e;
  return static_cast<uint16_t>(sign | ((e - 1 + 15) << 10) | (q - 1024));
}

struct Case {
  std::vector<uint16_t> w;
  std::vector<float> x;
  int64_t rows, cols, n;
  bool f16;
};

Case make_case(int64_t rows, int64_t cols, int64_t n, bool f16, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> d(-1, 1);
  Case c{std::vector<uint16_t>(size_t(rows * cols)), std::vector<float>(size_t(n * cols)), rows, cols, n, f16};
  for (auto& v : c.w) v = f16 ? to_f16(d(rng)) : to_bf16(d(rng));
  for (auto& v : c.x) v = d(rng) * 4;
  return c;
}

double weight(const Case& c, int64_t i) { return c.f16 ? f16_to_float(c.w[size_t(i)]) : bf16_to_float(c.w[size_t(i)]); }

// |y - Σ w x| within a few F32 roundings of Σ |w x| (the split-BF16 tiles keep
// 16 significant bits of x: 2^-17 relative per product).
void expect_close(const Case& c, const float* y, int64_t ldy, const char* what) {
  for (int64_t t = 0; t < c.n; ++t)
    for (int64_t r = 0; r < c.rows; ++r) {
      double exact = 0, magnitude = 0;
      for (int64_t k = 0; k < c.cols; ++k) {
        const double p = weight(c, r * c.cols + k) * c.x[size_t(t * c.cols + k)];
        exact += p;
        magnitude += std::fabs(p);
      }
      ASSERT_NEAR(y[t * ldy + r], exact, 2e-5 * magnitude + 1e-6)
          << what << (c.f16 ? " f16" : " bf16") << " rows=" << c.rows << " cols=" << c.cols << " n=" << c.n
          << " r=" << r << " t=" << t;
    }
}

const KernelTable* avx512_if_supported() {
#if defined(__x86_64__)
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl") &&
      __builtin_cpu_supports("avx512dq"))
    return avx512_table();
#endif
  return nullptr;
}

TEST(HalfGemm, GemvOfEveryTableMatchesReference) {
  std::vector<const KernelTable*> tables = {&scalar_table()};
  if (auto* t = avx512_if_supported()) tables.push_back(t);
  if (auto* t = avx2_table()) tables.push_back(t);
  if (auto* t = neon_table()) tables.push_back(t);
  for (const KernelTable* t : tables) {
#if defined(__x86_64__)
    if (t == avx2_table() && !(__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))) continue;
#endif
    SCOPED_TRACE(t->name);
    for (int64_t rows : {1, 3, 4, 5, 9, 13})
      for (int64_t cols : {1, 15, 16, 31, 32, 33, 100, 1031})
        for (bool f16 : {false, true}) {
          const Case c = make_case(rows, cols, 1, f16, uint32_t(rows * 1000 + cols));
          std::vector<float> y(size_t(rows), NAN);
          (f16 ? t->gemv_f16 : t->gemv_bf16)(c.w.data(), rows, cols, c.x.data(), y.data());
          expect_close(c, y.data(), rows, "gemv");
        }
  }
}

// Through the CPU backend, as the decoder calls it: one token takes the
// matrix-vector kernel, several the tiles (when this CPU has AMX).
TEST(HalfGemm, BackendLinearMatchesReference) {
  auto be = make_cpu_backend(2);
  uint32_t seed = 1;
  for (int64_t rows : {1, 15, 16, 33, 70, 257})
    for (int64_t cols : {1, 31, 32, 33, 96, 130})
      for (int64_t n : {1, 2, 3, 16, 17, 40})
        for (bool f16 : {false, true}) {
          const Case c = make_case(rows, cols, n, f16, seed++);
          Tensor w;
          w.name = "w";
          w.dtype = f16 ? DType::F16 : DType::BF16;
          w.shape = {rows, cols};
          w.data = c.w.data();
          w.nbytes = c.w.size() * 2;
          std::vector<float> y(size_t(n * rows), NAN);
          be->linear(w, c.x.data(), n, y.data());
          expect_close(c, y.data(), rows, "linear");
        }
}

#if defined(__x86_64__)
// The tile kernel on row ranges that start and end off the 16-row panels
// (the rows past the last full panel are summed in F32), with a long K, and
// on more rows than one weight panel holds (2592 columns: 96 rows of BF16, 32
// of F16 a panel). The panel scratch is exactly panel_scratch_halves long,
// followed by a guard that must stay untouched.
TEST(HalfGemm, AmxRowRangesMatchReference) {
  if (!amx::usable()) GTEST_SKIP() << "no AMX-BF16 on this CPU (or ALLM_AMX=off)";
  constexpr uint16_t kGuard = 0xa5a5;
  for (bool f16 : {false, true})
    for (auto [rows, cols] : {std::pair<int64_t, int64_t>{83, 64}, {83, 1000}, {83, 2080}, {211, 2592}}) {
      const Case c = make_case(rows, cols, 19, f16, uint32_t(cols + f16));
      std::vector<uint8_t> prepared(amx::prepared_bytes(c.n, cols, true));
      amx::prepare(c.x.data(), c.n, cols, true, prepared.data());
      const auto& p = *reinterpret_cast<const amx::Prepared*>(prepared.data());
      const size_t halves = size_t(amx::panel_scratch_halves(cols));
      std::vector<uint16_t> scratch(halves + 64, kGuard);
      std::vector<float> y(size_t(c.n * c.rows), NAN);
      for (auto [r0, r1] : {std::pair<int64_t, int64_t>{0, 5}, {5, 37}, {37, rows}}) {
        if (f16)
          amx::matmul_f16(c.w.data(), r0, r1, p, y.data(), c.rows, scratch.data());
        else
          amx::matmul_bf16(c.w.data(), r0, r1, p, y.data(), c.rows, scratch.data());
      }
      expect_close(c, y.data(), c.rows, "amx");
      for (size_t i = halves; i < scratch.size(); ++i)
        ASSERT_EQ(scratch[i], kGuard) << "panel scratch overrun, cols=" << cols << (f16 ? " f16" : " bf16");
    }
}
#endif

}  // namespace
}  // namespace allm::kernels
