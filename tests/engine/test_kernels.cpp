// Every SIMD kernel table this CPU supports against the portable one, on
// lengths that exercise the vector bodies and the tails.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "allm/compute.hpp"
#include "allm/weight_format.hpp"
#include "kernels/cpu_features.hpp"
#include "kernels/kernel_table.hpp"

namespace allm::kernels {
namespace {

std::vector<const KernelTable*> simd_tables() {
  std::vector<const KernelTable*> out;
#if defined(__x86_64__)
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && kernels::cpu_has_f16c())
    out.push_back(avx2_table());
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl") &&
      __builtin_cpu_supports("avx512dq"))
    out.push_back(avx512_table());
#endif
  if (neon_table()) out.push_back(neon_table());
  return out;
}

uint16_t bf16(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return static_cast<uint16_t>(u >> 16);
}

struct Data {
  std::mt19937 rng{42};
  std::vector<float> random(size_t n) {
    std::uniform_real_distribution<float> d(-1, 1);
    std::vector<float> v(n);
    for (auto& x : v) x = d(rng);
    return v;
  }
};

TEST(Kernels, ScalarHalfConversions) {
  EXPECT_EQ(f16_to_float(0x3c00), 1.0f);
  EXPECT_EQ(f16_to_float(0xc000), -2.0f);
  EXPECT_EQ(f16_to_float(0x0001), std::ldexp(1.0f, -24));  // smallest subnormal
  EXPECT_TRUE(std::isinf(f16_to_float(0x7c00)));
  EXPECT_EQ(bf16_to_float(0x3f80), 1.0f);
}

TEST(Kernels, MlxCodesAreLsbFirst) {
  const uint32_t word = 0x87654321u;
  for (int j = 0; j < 8; ++j) EXPECT_EQ(mlx_code(&word, 4, j), static_cast<uint32_t>(j + 1));
  const uint32_t words[2] = {0xffffffffu, 0x0u};  // a 3-bit code straddling the word boundary
  EXPECT_EQ(mlx_code(words, 3, 10), 0x3u);        // bits 30,31 set, bit 32 clear
}

TEST(Kernels, SimdTablesMatchScalar) {
  const auto& s = scalar_table();
  Data d;
  for (const KernelTable* t : simd_tables()) {
    SCOPED_TRACE(t->name);
    for (int64_t n : {1, 7, 16, 33, 64, 100, 1024, 1031}) {
      auto w = d.random(n), x = d.random(n);
      std::vector<uint16_t> wb(n), wh(n);
      for (int64_t i = 0; i < n; ++i) {
        wb[i] = bf16(w[i]);
        wh[i] = 0x3800 | static_cast<uint16_t>(i % 1024);  // f16 values in [0.5, 1)
      }
      const float tol = 1e-4f * static_cast<float>(n);
      EXPECT_NEAR(t->dot_f32(w.data(), x.data(), n), s.dot_f32(w.data(), x.data(), n), tol) << n;
      EXPECT_NEAR(t->read_sum(w.data(), n), s.read_sum(w.data(), n), tol) << n;
      EXPECT_NEAR(t->dot_bf16(wb.data(), x.data(), n), s.dot_bf16(wb.data(), x.data(), n), tol) << n;
      EXPECT_NEAR(t->dot_f16(wh.data(), x.data(), n), s.dot_f16(wh.data(), x.data(), n), tol) << n;
      std::vector<float> a(n), b(n);
      t->bf16_to_f32(wb.data(), a.data(), n);
      s.bf16_to_f32(wb.data(), b.data(), n);
      EXPECT_EQ(a, b);
      t->f16_to_f32(wh.data(), a.data(), n);
      s.f16_to_f32(wh.data(), b.data(), n);
      EXPECT_EQ(a, b);
      auto y1 = d.random(n), y2 = y1;
      t->axpy(0.75f, x.data(), y1.data(), n);
      s.axpy(0.75f, x.data(), y2.data(), n);
      for (int64_t i = 0; i < n; ++i) EXPECT_NEAR(y1[i], y2[i], 1e-6f);
    }
    // Blocked GEMM, including edge rows and tokens: below and above the token
    // count where AVX-512 switches to transposed 32-row panels, rows off the
    // panels, K across its 256-column slices; y with a row stride past `rows`.
    for (int64_t rows : {1, 4, 9, 33, 70}) {
      for (int64_t tokens : {1, 2, 3, 7, 16, 29}) {
        for (int64_t k : {37, 300}) {
          const int64_t ldy = rows + 3;
          auto w = d.random(rows * k), x = d.random(tokens * k);
          std::vector<float> y1(tokens * ldy, -7.0f), y2(tokens * ldy, -7.0f);
          t->gemm_f32(w.data(), rows, x.data(), tokens, k, y1.data(), ldy);
          s.gemm_f32(w.data(), rows, x.data(), tokens, k, y2.data(), ldy);
          for (size_t i = 0; i < y1.size(); ++i)
            ASSERT_NEAR(y1[i], y2[i], 1e-4f * k / 37) << "rows=" << rows << " tokens=" << tokens << " k=" << k
                                                       << " at " << i;
        }
      }
    }
  }
}

TEST(Kernels, MlxAffineEveryWidth) {
  const auto& s = scalar_table();
  Data d;
  std::mt19937 rng(7);
  for (int bits : {2, 3, 4, 5, 6, 8}) {
    for (int group : {32, 64}) {
      const int64_t n = 256;
      std::vector<uint32_t> codes(n * bits / 32 + 1);
      for (auto& c : codes) c = rng();
      std::vector<uint16_t> scales(n / group), biases(n / group);
      for (size_t g = 0; g < scales.size(); ++g) {
        scales[g] = bf16(0.01f * static_cast<float>(g + 1));
        biases[g] = bf16(-0.1f * static_cast<float>(g));
      }
      MlxRow row{codes.data(), scales.data(), biases.data(), kScaleBF16, bits, group};
      auto x = d.random(n);
      // Reference: dequantise element by element.
      double ref = 0;
      for (int64_t j = 0; j < n; ++j)
        ref += (bf16_to_float(scales[j / group]) * static_cast<float>(mlx_code(codes.data(), bits, j)) +
                bf16_to_float(biases[j / group])) *
               x[j];
      EXPECT_NEAR(s.dot_mlx(row, x.data(), n), ref, 1e-3) << bits << "/" << group;
      std::vector<float> deq(n);
      s.mlx_to_f32(row, deq.data(), n);
      std::vector<float> xsum(n / group, 0.0f);
      for (int64_t j = 0; j < n; ++j) xsum[j / group] += x[j];
      MlxRow with_sums = row;
      with_sums.xsum = xsum.data();
      EXPECT_NEAR(s.dot_mlx(with_sums, x.data(), n), ref, 1e-3);
      for (const KernelTable* t : simd_tables()) {
        EXPECT_NEAR(t->dot_mlx(row, x.data(), n), ref, 1e-3) << t->name << " " << bits << "/" << group;
        EXPECT_NEAR(t->dot_mlx(with_sums, x.data(), n), ref, 1e-3) << t->name << " " << bits << "/" << group;
        std::vector<float> deq2(n);
        t->mlx_to_f32(row, deq2.data(), n);
        for (int64_t j = 0; j < n; ++j) EXPECT_NEAR(deq2[j], deq[j], 1e-6f) << t->name << " " << bits;
      }
    }
  }
}

TEST(WeightFormats, RowSlicesAreViewsOfEveryFormat) {
  std::vector<uint16_t> raw(6 * 64);
  for (size_t i = 0; i < raw.size(); ++i) raw[i] = bf16(static_cast<float>(i % 64) / 64.0f + static_cast<float>(i / 64));
  Tensor w;
  w.name = "w";
  w.dtype = DType::BF16;
  w.shape = {6, 64};
  w.data = raw.data();
  w.nbytes = raw.size() * 2;
  Tensor v = slice_rows(w, 2, 3);
  EXPECT_EQ(v.data, raw.data() + 2 * 64);
  EXPECT_EQ(v.shape, (std::vector<int64_t>{3, 64}));
  std::vector<float> x(64, 1.0f), y(3);
  find_weight_format(DType::BF16)->dot_rows(v, 0, 3, x.data(), y.data());
  for (int r = 0; r < 3; ++r) EXPECT_NEAR(y[r], 64.0 * (r + 2) + 31.5, 0.5);
  EXPECT_THROW(slice_rows(w, 4, 3), std::exception);
}

TEST(Backend, LinearPrefillEqualsDecodePath) {
  auto be = make_cpu_backend(2);
  Data d;
  const int64_t out = 70, in = 96, n = 5;
  auto wf = d.random(out * in), x = d.random(n * in);
  std::vector<uint16_t> wb(out * in);
  for (size_t i = 0; i < wb.size(); ++i) wb[i] = bf16(wf[i]);
  Tensor w;
  w.name = "w";
  w.dtype = DType::BF16;
  w.shape = {out, in};
  w.data = wb.data();
  std::vector<float> batched(n * out), single(out);
  be->linear(w, x.data(), n, batched.data());
  for (int64_t t = 0; t < n; ++t) {
    be->linear(w, x.data() + t * in, 1, single.data());
    for (int64_t r = 0; r < out; ++r) EXPECT_NEAR(batched[t * out + r], single[r], 1e-4f);
  }
}

}  // namespace
}  // namespace allm::kernels
