// Block kernels: dequantize, float and integer dot products, quantize, against
// each other and against hand-built blocks; and the fixture files' quantized
// tensors against the same weights in the F32 files.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "allm/error.hpp"
#include "allm/gguf.hpp"
#include "gguf/blocks.hpp"
#include "gguf/codes.hpp"
#include "gguf/dot_q8_x86.hpp"
#include "gguf_test_util.hpp"

namespace allm::gguf::test {
namespace {

const std::vector<DType> kAllFormats = {DType::F32,  DType::F16,  DType::BF16, DType::Q4_0, DType::Q4_1,
                                        DType::Q5_0, DType::Q5_1, DType::Q8_0, DType::Q2_K, DType::Q3_K,
                                        DType::Q4_K, DType::Q5_K, DType::Q6_K, DType::MXFP4};
const std::vector<DType> kBlockFormats = {DType::Q4_0, DType::Q4_1, DType::Q5_0, DType::Q5_1, DType::Q8_0,
                                          DType::Q2_K, DType::Q3_K, DType::Q4_K, DType::Q5_K, DType::Q6_K,
                                          DType::MXFP4};

std::vector<float> random_floats(size_t n, uint32_t seed, float scale = 1.0f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> d(0.0f, scale);
  std::vector<float> v(n);
  for (auto& x : v) x = d(rng);
  return v;
}

double rel_rms(const std::vector<float>& a, const std::vector<float>& b) {
  double e = 0, s = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    e += (a[i] - b[i]) * double(a[i] - b[i]);
    s += double(a[i]) * a[i];
  }
  return std::sqrt(e / s);
}

TEST(GgufBlocks, HandBuiltQ8_0AndQ4_0) {
  detail::BlockQ8_0 q8{};
  q8.d = detail::float_to_half(0.5f);
  for (int i = 0; i < 32; ++i) q8.qs[i] = int8_t(i - 16);
  float out[32];
  dequantize_row(DType::Q8_0, &q8, out, 32);
  for (int i = 0; i < 32; ++i) EXPECT_FLOAT_EQ(out[i], 0.5f * float(i - 16));

  detail::BlockQ4_0 q4{};
  q4.d = detail::float_to_half(2.0f);
  for (int j = 0; j < 16; ++j) q4.qs[j] = uint8_t(j | ((15 - j) << 4));
  dequantize_row(DType::Q4_0, &q4, out, 32);
  for (int j = 0; j < 16; ++j) {
    EXPECT_FLOAT_EQ(out[j], 2.0f * float(j - 8));
    EXPECT_FLOAT_EQ(out[j + 16], 2.0f * float(15 - j - 8));
  }
}

// MXFP4 by the OCP Microscaling spec: w = E2M1(code) * 2^(e - 127), E2M1
// codes 0..7 = 0, 0.5, 1, 1.5, 2, 3, 4, 6 and 8..15 their negatives; ggml
// keeps element j in the low nibble of byte j and element j + 16 in its high
// nibble.
TEST(GgufBlocks, HandBuiltMxfp4) {
  const float e2m1[16] = {0, 0.5f, 1, 1.5f, 2, 3, 4, 6, -0.0f, -0.5f, -1, -1.5f, -2, -3, -4, -6};
  detail::BlockMXFP4 b{};
  float out[32];
  for (int e : {127, 128, 125, 140, 100}) {
    b.e = uint8_t(e);
    for (int j = 0; j < 16; ++j) b.qs[j] = uint8_t(j | ((15 - j) << 4));
    dequantize_row(DType::MXFP4, &b, out, 32);
    const float scale = std::ldexp(1.0f, e - 127);
    for (int j = 0; j < 16; ++j) {
      EXPECT_EQ(out[j], e2m1[j] * scale) << "e " << e << " element " << j;
      EXPECT_EQ(out[j + 16], e2m1[15 - j] * scale) << "e " << e << " element " << j + 16;
    }
  }
  // Concrete values: e = 128 (scale 2), codes 0x1 (0.5) and 0x7 (6) -> 1 and 12; 0xF (-6), 0x9 (-0.5) -> -12, -1.
  b.e = 128;
  std::memset(b.qs, 0, sizeof b.qs);
  b.qs[0] = 0x71;
  b.qs[1] = 0x9F;
  dequantize_row(DType::MXFP4, &b, out, 32);
  EXPECT_EQ(out[0], 1.0f);
  EXPECT_EQ(out[16], 12.0f);
  EXPECT_EQ(out[1], -12.0f);
  EXPECT_EQ(out[17], -1.0f);
  EXPECT_EQ(out[2], 0.0f);
  // The two smallest exponents are subnormal floats: 2^-127 and 2^-126 times 0.5.
  b.e = 0;
  b.qs[0] = 0x01;
  dequantize_row(DType::MXFP4, &b, out, 32);
  EXPECT_EQ(out[0], std::ldexp(0.5f, -127));
  b.e = 1;
  dequantize_row(DType::MXFP4, &b, out, 32);
  EXPECT_EQ(out[0], std::ldexp(0.5f, -126));

  // Values on the grid survive quantization exactly; the exponent puts the
  // largest magnitude in the top binade (24 = 6 * 2^2: e = 129).
  float x[32];
  for (int j = 0; j < 32; ++j) x[j] = e2m1[j % 16] * 4.0f;
  x[5] = 24.0f;
  detail::BlockMXFP4 q{};
  quantize_row(DType::MXFP4, x, &q, 32);
  EXPECT_EQ(q.e, 129);
  dequantize_row(DType::MXFP4, &q, out, 32);
  for (int j = 0; j < 32; ++j) EXPECT_EQ(out[j], x[j]) << j;
  EXPECT_EQ(*dtype_from_ggml(39), DType::MXFP4);
  EXPECT_EQ(row_bytes(DType::MXFP4, 64), 34u);
}

TEST(GgufBlocks, HalfConversionsRoundTrip) {
  for (uint32_t h = 0; h < 0x10000; ++h) {
    if ((h & 0x7c00) == 0x7c00 && (h & 0x3ff)) continue;  // NaN payloads
    EXPECT_EQ(detail::float_to_half(detail::half_to_float(uint16_t(h))), h) << h;
  }
  EXPECT_EQ(detail::float_to_half(1.0f + 1.0f / 4096), 0x3C00);  // ties to even
  EXPECT_EQ(detail::float_to_half(1e6f), 0x7C00);
  EXPECT_EQ(detail::bf16_to_float(detail::float_to_bf16(3.140625f)), 3.140625f);
}

// Integer codes * scale - offset reproduce dequantize_row exactly (same floats).
TEST(GgufBlocks, DecodedCodesMatchDequantize) {
  for (DType t : kBlockFormats) {
    const int64_t n = 512;
    auto row = random_row(t, n, 7);
    std::vector<float> ref(n);
    dequantize_row(t, row.data(), ref.data(), n);
    int per = detail::decoded_block_elems(t);
    detail::DecodedBlock blk;
    for (int64_t b = 0; b < n / per; ++b) {
      ASSERT_TRUE(detail::decode_block(t, row.data(), b, blk));
      for (int i = 0; i < per; ++i) {
        float v = blk.scale[i / 16] * float(blk.code[i]) - blk.offset[i / 16];
        ASSERT_NEAR(v, ref[b * per + i], 1e-6f * (1 + std::fabs(ref[b * per + i]))) << dtype_name(t) << " " << i;
      }
    }
  }
}

TEST(GgufBlocks, FloatDotMatchesDequantizedDot) {
  for (DType t : kAllFormats) {
    const int64_t n = 768;
    auto row = random_row(t, n, 11);
    if (t == DType::F32 || t == DType::F16 || t == DType::BF16) {  // random bits would hold NaNs
      auto f = random_floats(n, 3);
      quantize_row(t, f.data(), row.data(), n);
    }
    auto x = random_floats(n, 5);
    std::vector<float> w(n);
    dequantize_row(t, row.data(), w.data(), n);
    double ref = 0, mag = 0;
    for (int64_t i = 0; i < n; ++i) {
      ref += double(w[i]) * x[i];
      mag += std::fabs(double(w[i]) * x[i]);
    }
    EXPECT_NEAR(dot_row_f32(t, row.data(), x.data(), n), ref, 1e-5 * mag + 1e-6) << dtype_name(t);
  }
}

// The SIMD integer path equals the exact integer arithmetic on decoded codes,
// and stays within activation-quantisation noise of the float dot product.
TEST(GgufBlocks, IntegerDotMatchesCodes) {
  for (const char* isa : {"avx512vnni", "avx2", "scalar"}) {
  if (!detail::x86_select_isa(isa)) continue;
  for (DType t : kBlockFormats) {
    ASSERT_TRUE(q8_dot_supported(t));
    const int64_t n = 1024;
    auto row = random_row(t, n, 13);
    auto x = random_floats(n, 17);
    QuantizedActivations q;
    quantize_activations(x.data(), n, q);
    int per = detail::decoded_block_elems(t);
    detail::DecodedBlock blk;
    double exact = 0, mag = 0;
    for (int64_t b = 0; b < n / per; ++b) {
      detail::decode_block(t, row.data(), b, blk);
      for (int i = 0; i < per; ++i) {
        int64_t k = b * per + i;
        double w = double(blk.scale[i / 16]) * blk.code[i] - blk.offset[i / 16];
        exact += w * q.scale[size_t(k / 32)] * q.q[size_t(k)];
        mag += std::fabs(w * x[k]);
      }
    }
    float got = dot_row_q8(t, row.data(), q, n);
    EXPECT_NEAR(got, exact, 2e-5 * mag) << dtype_name(t) << " (" << q8_dot_isa() << ")";
    EXPECT_NEAR(got, dot_row_f32(t, row.data(), x.data(), n), 0.02 * mag) << dtype_name(t);
  }
  }
  detail::x86_select_isa("avx512vnni") || detail::x86_select_isa("avx2");
}

TEST(GgufBlocks, ActivationQuantisation) {
  auto x = random_floats(256, 19, 3.0f);
  x[5] = 0;
  QuantizedActivations q;
  quantize_activations(x.data(), 256, q);
  for (int b = 0; b < 8; ++b) {
    int s0 = 0, s1 = 0;
    for (int i = 0; i < 16; ++i) s0 += q.q[size_t(32 * b + i)];
    for (int i = 16; i < 32; ++i) s1 += q.q[size_t(32 * b + i)];
    EXPECT_EQ(q.bsum[size_t(2 * b)], s0);
    EXPECT_EQ(q.bsum[size_t(2 * b + 1)], s1);
    for (int i = 0; i < 32; ++i)
      EXPECT_NEAR(q.scale[size_t(b)] * q.q[size_t(32 * b + i)], x[size_t(32 * b + i)], q.scale[size_t(b)] * 0.5001f);
  }
  EXPECT_THROW(quantize_activations(x.data(), 40, q), InvalidArgumentError);
}

TEST(GgufBlocks, QuantizeRoundTripError) {
  const std::map<DType, double> bound = {{DType::F32, 0},       {DType::F16, 1e-3},  {DType::BF16, 5e-3},
                                         {DType::Q8_0, 0.01},   {DType::Q6_K, 0.025}, {DType::Q5_0, 0.05},
                                         {DType::Q5_1, 0.05},   {DType::Q5_K, 0.04},  {DType::Q4_0, 0.11},
                                         {DType::Q4_1, 0.11},   {DType::Q4_K, 0.09},  {DType::MXFP4, 0.2}};
  auto x = random_floats(4096, 23);
  for (auto [t, b] : bound) {
    ASSERT_TRUE(quantize_supported(t));
    std::vector<uint8_t> buf(row_bytes(t, 4096));
    quantize_row(t, x.data(), buf.data(), 4096);
    std::vector<float> back(4096);
    dequantize_row(t, buf.data(), back.data(), 4096);
    double e = rel_rms(x, back);
    EXPECT_LE(e, b) << dtype_name(t);
    std::printf("[ %s ] relative RMS error %.4f\n", dtype_name(t), e);
  }
  std::vector<uint8_t> buf(64);
  EXPECT_THROW(quantize_row(DType::Q2_K, x.data(), buf.data(), 256), UnsupportedError);
  EXPECT_THROW(quantize_row(DType::Q8_0, x.data(), buf.data(), 33), InvalidArgumentError);
  EXPECT_THROW(dequantize_row(DType::Q4_K, buf.data(), x.data(), 32), InvalidArgumentError);
}

TEST(GgufBlocks, ZeroBlocksStayZero) {
  std::vector<float> z(256, 0.0f), back(256, 1.0f);
  for (DType t : {DType::Q8_0, DType::Q4_0, DType::Q4_1, DType::Q5_0, DType::Q5_1, DType::Q4_K, DType::Q5_K, DType::Q6_K}) {
    std::vector<uint8_t> buf(row_bytes(t, 256));
    quantize_row(t, z.data(), buf.data(), 256);
    dequantize_row(t, buf.data(), back.data(), 256);
    for (float v : back) ASSERT_EQ(v, 0.0f) << dtype_name(t);
  }
}

// llama.cpp's own Q8_0 / Q4_0 / Q5_0 tensors against the F32 file of the same model.
TEST(GgufBlocks, FixtureQuantizedTensorsMatchF32File) {
  for (const char* model : {"llama", "qwen3"}) {
    auto f32 = File::open(data(std::string(model) + "-f32.gguf"));
    for (const char* type : {"q8_0", "q4_0", "q4_k_m"}) {
      auto q = File::open(data(std::string(model) + "-" + type + ".gguf"));
      int compared = 0;
      for (auto& info : q->tensors()) {
        auto* ref = f32->find_tensor(info.name);
        ASSERT_NE(ref, nullptr) << info.name;
        ASSERT_EQ(ref->ne, info.ne) << info.name;
        int64_t cols = int64_t(info.ne[0]), rows = int64_t(ref->nbytes / 4) / cols;
        std::vector<float> a(size_t(rows * cols)), b(size_t(rows * cols));
        for (int64_t r = 0; r < rows; ++r) {
          dequantize_row(info.dtype, q->tensor_data(info) + size_t(r) * row_bytes(info.dtype, cols), a.data() + r * cols, cols);
          std::memcpy(b.data() + r * cols, f32->tensor_data(*ref) + size_t(r * cols) * 4, size_t(cols) * 4);
        }
        double bound = info.dtype == DType::F32 ? 0 : info.dtype == DType::Q8_0 ? 0.01 : info.dtype == DType::Q5_0 ? 0.06 : 0.12;
        EXPECT_LE(rel_rms(b, a), bound) << model << "-" << type << " " << info.name << " " << dtype_name(info.dtype);
        ++compared;
      }
      EXPECT_GT(compared, 10);
    }
  }
}

}  // namespace
}  // namespace allm::gguf::test
