// The batched int8 matmul (gemm.hpp) against the exact integer result of the
// same quantised activations, for every block type, token counts around the
// 4-token tile, row counts around the 4-row panel and lengths that are not a
// multiple of the 64-element step.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "allm/error.hpp"
#include "allm/gguf.hpp"
#include "allm/weight_format.hpp"
#include "gguf/blocks.hpp"
#include "gguf/codes.hpp"
#include "gguf/gemm.hpp"
#include "gguf/interleave.hpp"
#include "gguf_test_util.hpp"

namespace allm::gguf::test {
namespace {

const DType kBlockTypes[] = {DType::Q4_0, DType::Q4_1, DType::Q5_0, DType::Q5_1, DType::Q8_0,
                             DType::Q2_K, DType::Q3_K, DType::Q4_K, DType::Q5_K, DType::Q6_K};

// Random bytes with tame f16 scales (as test_blocks.cpp's random_row).
std::vector<uint8_t> random_rows(DType t, int64_t rows, int64_t cols, uint32_t seed) {
  std::mt19937 rng(seed);
  const size_t stride = row_bytes(t, cols);
  std::vector<uint8_t> data(stride * size_t(rows));
  for (auto& b : data) b = uint8_t(rng());
  const int per = detail::decoded_block_elems(t);
  const size_t block = row_bytes(t, per);
  std::vector<size_t> halves;  // byte offsets of f16 scales inside a block
  switch (t) {
    case DType::Q4_0: case DType::Q5_0: case DType::Q8_0: halves = {0}; break;
    case DType::Q4_1: case DType::Q5_1: case DType::Q4_K: case DType::Q5_K: halves = {0, 2}; break;
    case DType::Q2_K: halves = {80, 82}; break;
    case DType::Q3_K: halves = {108}; break;
    case DType::Q6_K: halves = {208}; break;
    default: break;
  }
  std::uniform_real_distribution<float> scale(0.001f, 0.05f);
  for (size_t b = 0; b < data.size(); b += block)
    for (size_t off : halves) {
      uint16_t h = detail::float_to_half(scale(rng));
      std::memcpy(data.data() + b + off, &h, 2);
    }
  return data;
}

// Exact Σ w * (scale * q) over a row, from the portable block decoder.
double exact_dot(DType t, const uint8_t* row, const QuantizedActivations& q, int64_t cols, double& magnitude) {
  const int per = detail::decoded_block_elems(t);
  detail::DecodedBlock blk;
  double sum = 0;
  magnitude = 0;
  for (int64_t b = 0; b < cols / per; ++b) {
    detail::decode_block(t, row, b, blk);
    for (int i = 0; i < per; ++i) {
      const int64_t k = b * per + i;
      const double w = double(blk.scale[i / 16]) * blk.code[i] - blk.offset[i / 16];
      const double x = double(q.scale[size_t(k / 32)]) * q.q[size_t(k)];
      sum += w * x;
      magnitude += std::fabs(w * x);
    }
  }
  return sum;
}

TEST(GgufGemm, MatchesExactIntegerDotForEveryBlockType) {
  if (!detail::vnni_gemm_available()) GTEST_SKIP() << "no AVX-512 VNNI on this CPU";
  for (DType t : kBlockTypes) {
    const int per = detail::decoded_block_elems(t);
    for (int64_t cols : {int64_t(per == 32 ? 96 : 256), int64_t(per == 32 ? 1056 : 768)}) {
      for (int64_t tokens : {1, 2, 3, 4, 5, 9}) {
        const int64_t rows = 7;
        auto w = random_rows(t, rows, cols, uint32_t(cols + tokens));
        std::mt19937 rng{uint32_t(tokens)};
        std::normal_distribution<float> nd(0.f, 1.f);
        std::vector<float> x(size_t(tokens * cols));
        for (auto& v : x) v = nd(rng);
        std::vector<uint8_t> prepared(detail::vnni_prepared_bytes(tokens, cols));
        detail::vnni_prepare(x.data(), tokens, cols, prepared.data());
        Tensor tensor;
        tensor.name = "w";
        tensor.dtype = t;
        tensor.shape = {rows, cols};
        tensor.data = w.data();
        // rows [1, 6) only: the result leaves the other rows untouched
        std::vector<float> y(size_t(tokens * rows), -7.f);
        detail::vnni_matmul(tensor, 1, 6, prepared.data(), y.data(), rows);
        for (int64_t tok = 0; tok < tokens; ++tok) {
          QuantizedActivations q;
          quantize_activations(x.data() + tok * cols, cols, q);
          for (int64_t r = 0; r < rows; ++r) {
            const float got = y[size_t(tok * rows + r)];
            if (r < 1 || r >= 6) {
              EXPECT_EQ(got, -7.f);
              continue;
            }
            double mag;
            const double want = exact_dot(t, w.data() + size_t(r) * row_bytes(t, cols), q, cols, mag);
            EXPECT_NEAR(got, want, 2e-5 * mag + 1e-6)
                << dtype_name(t) << " cols " << cols << " tokens " << tokens << " row " << r << " token " << tok;
          }
        }
      }
    }
  }
}

TEST(GgufGemm, InterleavedRowsDequantizeToTheStoredValues) {
  for (DType t : {DType::Q4_0, DType::Q4_K, DType::Q6_K, DType::Q8_0}) {
    const int64_t rows = 32, cols = 512;
    auto w = random_rows(t, rows, cols, 5);
    Tensor stored;
    stored.name = "w";
    stored.dtype = t;
    stored.shape = {rows, cols};
    stored.data = w.data();
    ASSERT_TRUE(detail::can_interleave(stored));
    const DType to = detail::interleaved_type(t);
    std::vector<uint8_t> packed(size_t(rows) * allm::row_bytes(Tensor{"w", to, {rows, cols}}));
    detail::interleave(stored, packed.data());
    Tensor inter = stored;
    inter.dtype = to;
    inter.data = packed.data();
    std::vector<float> want(size_t(rows * cols)), got(size_t(rows * cols));
    for (int64_t r = 0; r < rows; ++r)
      dequantize_row(t, w.data() + size_t(r) * row_bytes(t, cols), want.data() + r * cols, cols);
    detail::dequantize_interleaved(inter, 0, rows, got.data());
    for (size_t i = 0; i < got.size(); ++i) ASSERT_FLOAT_EQ(got[i], want[i]) << dtype_name(to) << " element " << i;
    // a 15-row matrix cannot be interleaved
    stored.shape = {15, cols};
    EXPECT_FALSE(detail::can_interleave(stored));
  }
}

TEST(GgufGemm, InterleavedMatmulMatchesExactIntegerDot) {
  if (!detail::vnni_gemm_available()) GTEST_SKIP() << "no AVX-512 VNNI on this CPU";
  for (DType t : {DType::Q4_0, DType::Q4_K, DType::Q6_K, DType::Q8_0}) {
    const int64_t rows = 48, cols = 768;
    auto w = random_rows(t, rows, cols, 9);
    Tensor stored;
    stored.name = "w";
    stored.dtype = t;
    stored.shape = {rows, cols};
    stored.data = w.data();
    const DType to = detail::interleaved_type(t);
    std::vector<uint8_t> packed(size_t(rows) * allm::row_bytes(Tensor{"w", to, {rows, cols}}));
    detail::interleave(stored, packed.data());
    Tensor inter = stored;
    inter.dtype = to;
    inter.data = packed.data();
    for (int64_t tokens : {1, 2, 3, 7, 8, 13}) {
      std::mt19937 rng{uint32_t(tokens * 31)};
      std::normal_distribution<float> nd(0.f, 1.f);
      std::vector<float> x(size_t(tokens * cols));
      for (auto& v : x) v = nd(rng);
      std::vector<uint8_t> prepared(detail::vnni_prepared_bytes(tokens, cols));
      detail::vnni_prepare(x.data(), tokens, cols, prepared.data());
      // rows [3, 45): partial first and last panels
      std::vector<float> y(size_t(tokens * rows), -7.f);
      detail::vnni_matmul(inter, 3, 45, prepared.data(), y.data(), rows);
      for (int64_t tok = 0; tok < tokens; ++tok) {
        QuantizedActivations q;
        quantize_activations(x.data() + tok * cols, cols, q);
        for (int64_t r = 0; r < rows; ++r) {
          const float got = y[size_t(tok * rows + r)];
          if (r < 3 || r >= 45) {
            EXPECT_EQ(got, -7.f) << dtype_name(to) << " row " << r;
            continue;
          }
          double mag;
          const double want = exact_dot(t, w.data() + size_t(r) * row_bytes(t, cols), q, cols, mag);
          EXPECT_NEAR(got, want, 2e-5 * mag + 1e-6)
              << dtype_name(to) << " tokens " << tokens << " row " << r << " token " << tok;
        }
      }
    }
  }
}

TEST(GgufGemm, RefusesMismatchedLengths) {
  if (!detail::vnni_gemm_available()) GTEST_SKIP() << "no AVX-512 VNNI on this CPU";
  std::vector<float> x(64, 1.f);
  EXPECT_THROW(detail::vnni_prepare(x.data(), 1, 40, nullptr), InvalidArgumentError);
  std::vector<uint8_t> prepared(detail::vnni_prepared_bytes(1, 64));
  detail::vnni_prepare(x.data(), 1, 64, prepared.data());
  auto w = random_rows(DType::Q8_0, 1, 96, 1);
  Tensor tensor;
  tensor.name = "blk.0.attn_q.weight";
  tensor.dtype = DType::Q8_0;
  tensor.shape = {1, 96};
  tensor.data = w.data();
  float y = 0;
  try {
    detail::vnni_matmul(tensor, 0, 1, prepared.data(), &y, 1);
    FAIL() << "expected an error";
  } catch (const InvalidArgumentError& e) {
    EXPECT_NE(std::string(e.what()).find("blk.0.attn_q.weight"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace allm::gguf::test
