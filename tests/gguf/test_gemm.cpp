// The batched int8 matmul (gemm.hpp) against the exact integer result of the
// same quantised activations, for every block type in its file layout and as
// interleaved at load, token counts around the 8-token tile, row ranges that
// cut the 16-row panels and lengths that are not a multiple of the 64-element
// step.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "allm/error.hpp"
#include "allm/gguf.hpp"
#include "allm/weight_format.hpp"
#include "gguf/codes.hpp"
#include "gguf/gemm.hpp"
#include "gguf/interleave.hpp"
#include "gguf_test_util.hpp"

namespace allm::gguf::test {
namespace {

const DType kBlockTypes[] = {DType::Q4_0, DType::Q4_1, DType::Q5_0, DType::Q5_1, DType::Q8_0,
                             DType::Q2_K, DType::Q3_K, DType::Q4_K, DType::Q5_K, DType::Q6_K};
const DType kInterleavedTypes[] = {DType::Q4_0, DType::Q4_K, DType::Q6_K, DType::Q8_0};

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

Tensor matrix(DType t, int64_t rows, int64_t cols, const void* data) {
  Tensor w;
  w.name = "w";
  w.dtype = t;
  w.shape = {rows, cols};
  w.data = data;
  return w;
}

// `stored` re-laid out as loading does (interleave.hpp); `bytes` holds it.
Tensor interleaved(const Tensor& stored, std::vector<uint8_t>& bytes) {
  Tensor out = stored;
  out.dtype = interleaved_type(stored.dtype);
  bytes.resize(size_t(stored.rows()) * allm::row_bytes(out));
  detail::interleave(stored, bytes.data());
  out.data = bytes.data();
  return out;
}

// Rows [r0, r1) of `w` times `tokens` random tokens (normal, from `seed`):
// each row of the range equals the exact integer dot of the same row of
// `stored` (the file layout of w) with the same quantised token, and the rows
// outside the range are left untouched.
void expect_matmul_exact(const Tensor& w, const Tensor& stored, int64_t r0, int64_t r1, int64_t tokens,
                         uint32_t seed) {
  const int64_t rows = w.rows(), cols = w.cols();
  std::mt19937 rng{seed};
  std::normal_distribution<float> nd(0.f, 1.f);
  std::vector<float> x(size_t(tokens * cols));
  for (auto& v : x) v = nd(rng);
  std::vector<uint8_t> prepared(detail::vnni_prepared_bytes(tokens, cols));
  detail::vnni_prepare(x.data(), tokens, cols, prepared.data());
  std::vector<float> y(size_t(tokens * rows), -7.f);
  detail::vnni_matmul(w, r0, r1, prepared.data(), y.data(), rows);
  const auto* base = static_cast<const uint8_t*>(stored.data);
  for (int64_t tok = 0; tok < tokens; ++tok) {
    QuantizedActivations q;
    quantize_activations(x.data() + tok * cols, cols, q);
    for (int64_t r = 0; r < rows; ++r) {
      const float got = y[size_t(tok * rows + r)];
      if (r < r0 || r >= r1) {
        EXPECT_EQ(got, -7.f) << dtype_name(w.dtype) << " row " << r;
        continue;
      }
      double mag;
      const double want = exact_dot(stored.dtype, base + size_t(r) * row_bytes(stored.dtype, cols), q, cols, mag);
      EXPECT_NEAR(got, want, 2e-5 * mag + 1e-6)
          << dtype_name(w.dtype) << " cols " << cols << " tokens " << tokens << " row " << r << " token " << tok;
    }
  }
}

TEST(GgufGemm, MatchesExactIntegerDotForEveryBlockType) {
  if (!detail::vnni_gemm_available()) GTEST_SKIP() << "no AVX-512 VNNI on this CPU";
  for (DType t : kBlockTypes) {
    const int per = detail::decoded_block_elems(t);
    for (int64_t cols : {int64_t(per == 32 ? 96 : 256), int64_t(per == 32 ? 1056 : 768)}) {
      for (int64_t tokens : {1, 2, 3, 4, 5, 9}) {
        const int64_t rows = 7;
        auto bytes = random_row(t, rows * cols, uint32_t(cols + tokens));
        const Tensor w = matrix(t, rows, cols, bytes.data());
        expect_matmul_exact(w, w, 1, 6, tokens, uint32_t(tokens));  // rows [1, 6) only
      }
    }
  }
}

TEST(GgufGemm, InterleavedRowsDequantizeToTheStoredValues) {
  for (DType t : kInterleavedTypes) {
    const int64_t rows = 32, cols = 512;
    auto bytes = random_row(t, rows * cols, 5);
    Tensor stored = matrix(t, rows, cols, bytes.data());
    ASSERT_TRUE(detail::can_interleave(stored));
    std::vector<uint8_t> packed;
    const Tensor inter = interleaved(stored, packed);
    std::vector<float> want(size_t(rows * cols)), got(size_t(rows * cols));
    for (int64_t r = 0; r < rows; ++r)
      dequantize_row(t, bytes.data() + size_t(r) * row_bytes(t, cols), want.data() + r * cols, cols);
    detail::dequantize_interleaved(inter, 0, rows, got.data());
    for (size_t i = 0; i < got.size(); ++i)
      ASSERT_FLOAT_EQ(got[i], want[i]) << dtype_name(inter.dtype) << " element " << i;
    // a 15-row matrix cannot be interleaved
    stored.shape = {15, cols};
    EXPECT_FALSE(detail::can_interleave(stored));
  }
}

TEST(GgufGemm, InterleavedMatmulMatchesExactIntegerDot) {
  if (!detail::vnni_gemm_available()) GTEST_SKIP() << "no AVX-512 VNNI on this CPU";
  for (DType t : kInterleavedTypes) {
    const int64_t rows = 48, cols = 768;
    auto bytes = random_row(t, rows * cols, 9);
    const Tensor stored = matrix(t, rows, cols, bytes.data());
    std::vector<uint8_t> packed;
    const Tensor inter = interleaved(stored, packed);
    for (int64_t tokens : {1, 2, 3, 7, 8, 13})
      expect_matmul_exact(inter, stored, 3, 45, tokens, uint32_t(tokens * 31));  // partial first and last panels
  }
}

TEST(GgufGemm, RefusesMismatchedLengths) {
  if (!detail::vnni_gemm_available()) GTEST_SKIP() << "no AVX-512 VNNI on this CPU";
  std::vector<float> x(64, 1.f);
  EXPECT_THROW(detail::vnni_prepare(x.data(), 1, 40, nullptr), InvalidArgumentError);
  std::vector<uint8_t> prepared(detail::vnni_prepared_bytes(1, 64));
  detail::vnni_prepare(x.data(), 1, 64, prepared.data());
  auto bytes = random_row(DType::Q8_0, 96, 1);
  Tensor tensor = matrix(DType::Q8_0, 1, 96, bytes.data());
  tensor.name = "blk.0.attn_q.weight";
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
