// Each CUDA kernel against the CPU's reference on random data: the weight
// formats' dequantisers (every format the CPU multiplies), the CPU backend's
// norm / attention / activations, kv_encode_row's bytes. Skipped, with the
// reason, where no CUDA device can be used.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "allm/checkpoint_loader.hpp"
#include "allm/compute.hpp"
#include "allm/gguf.hpp"
#include "allm/kv_format.hpp"
#include "allm/weight_format.hpp"
#include "kernels.hpp"
#include "split_blocks.hpp"

namespace allm::cuda {
namespace {

std::string no_device_reason() {
  int count = 0;
  const cudaError_t e = cudaGetDeviceCount(&count);
  if (e != cudaSuccess) return std::string("no usable CUDA driver/device: ") + cudaGetErrorString(e);
  if (count == 0) return "no CUDA device";
  return "";
}

// The CPU's weight formats, the references' dequantisers (registered by the
// checkpoint-loader plugins, which these tests do not load).
const bool formats_registered = [] {
  gguf::register_weight_formats();
  register_mlx_weight_format();
  return true;
}();

#define REQUIRE_DEVICE()                                  \
  do {                                                    \
    static const std::string why = no_device_reason();    \
    if (!why.empty()) GTEST_SKIP() << why;                \
  } while (0)

// Device memory holding a copy of a host vector; freed at scope end.
template <class T>
struct Dev {
  T* p = nullptr;
  size_t n = 0;
  explicit Dev(size_t count) : n(count) { check(cudaMalloc(reinterpret_cast<void**>(&p), std::max<size_t>(1, count) * sizeof(T)), "cudaMalloc"); }
  explicit Dev(const std::vector<T>& v) : Dev(v.size()) {
    check(cudaMemcpy(p, v.data(), v.size() * sizeof(T), cudaMemcpyHostToDevice), "upload");
  }
  ~Dev() { cudaFree(p); }
  Dev(const Dev&) = delete;
  std::vector<T> get() const {
    std::vector<T> v(n);
    check(cudaDeviceSynchronize(), "sync");
    check(cudaMemcpy(v.data(), p, n * sizeof(T), cudaMemcpyDeviceToHost), "download");
    return v;
  }
};

std::mt19937 rng{1234};
std::vector<float> random_floats(size_t n, float scale = 1) {
  std::normal_distribution<float> d(0, scale);
  std::vector<float> v(n);
  for (auto& x : v) x = d(rng);
  return v;
}

// ‖a - b‖ / ‖b‖ (NaN anywhere fails).
double rel_err(const std::vector<float>& a, const std::vector<float>& b) {
  double num = 0, den = 0;
  for (size_t i = 0; i < b.size(); ++i) {
    if (!std::isfinite(a[i])) return INFINITY;
    num += (double(a[i]) - b[i]) * (double(a[i]) - b[i]);
    den += double(b[i]) * b[i];
  }
  return std::sqrt(num / std::max(den, 1e-30));
}

// ---------------------------------------------------------------- weights

struct HostWeight {
  Tensor t;                       // the CPU's view, for the reference
  std::vector<uint8_t> bytes;     // codes / blocks
  std::vector<uint16_t> scales, biases;  // MLX (BF16)
  WFormat format;
};

uint16_t half_bits(float f) {
  uint16_t h;
  gguf::quantize_row(DType::F16, &f, &h, 1);
  return h;
}

// Random bytes for a block format with sane scale fields at their offsets.
void random_blocks(std::vector<uint8_t>& b, size_t block_bytes, std::vector<int> half_offsets, int e_offset = -1) {
  std::uniform_int_distribution<int> byte(0, 255), exponent(110, 135);
  std::uniform_real_distribution<float> scale(0.001f, 0.05f);
  for (auto& x : b) x = uint8_t(byte(rng));
  for (size_t o = 0; o + block_bytes <= b.size(); o += block_bytes) {
    for (int h : half_offsets) {
      const uint16_t v = half_bits(scale(rng));
      std::memcpy(&b[o + h], &v, 2);
    }
    if (e_offset >= 0) b[o + e_offset] = uint8_t(exponent(rng));
  }
}

HostWeight make_weight(WFormat f, int64_t rows, int64_t cols, int bits = 4, int group = 64) {
  HostWeight w;
  w.format = f;
  w.t.shape = {rows, cols};
  w.t.name = "w";
  struct Block { DType dtype; size_t elems, bytes; std::vector<int> halves; int e; };
  auto block = [&]() -> Block {
    switch (f) {
      case WFormat::q4_0: return {DType::Q4_0, 32, 18, {0}, -1};
      case WFormat::q4_1: return {DType::Q4_1, 32, 20, {0, 2}, -1};
      case WFormat::q5_0: return {DType::Q5_0, 32, 22, {0}, -1};
      case WFormat::q5_1: return {DType::Q5_1, 32, 24, {0, 2}, -1};
      case WFormat::q8_0: return {DType::Q8_0, 32, 34, {0}, -1};
      case WFormat::q2_k: return {DType::Q2_K, 256, 84, {80, 82}, -1};
      case WFormat::q3_k: return {DType::Q3_K, 256, 110, {108}, -1};
      case WFormat::q4_k: return {DType::Q4_K, 256, 144, {0, 2}, -1};
      case WFormat::q5_k: return {DType::Q5_K, 256, 176, {0, 2}, -1};
      case WFormat::q6_k: return {DType::Q6_K, 256, 210, {208}, -1};
      case WFormat::mxfp4: return {DType::MXFP4, 32, 17, {}, 0};
      default: return {DType::F32, 0, 0, {}, -1};
    }
  }();
  if (f == WFormat::f32 || f == WFormat::f16 || f == WFormat::bf16) {
    const DType dt = f == WFormat::f32 ? DType::F32 : f == WFormat::f16 ? DType::F16 : DType::BF16;
    const auto x = random_floats(size_t(rows * cols), 0.1f);
    w.bytes.resize(size_t(rows * cols) * dtype_size(dt));
    gguf::quantize_row(dt, x.data(), w.bytes.data(), rows * cols);
    w.t.dtype = dt;
  } else if (f == WFormat::mlx) {
    std::uniform_int_distribution<int> byte(0, 255);
    w.bytes.resize(size_t(rows * cols * bits / 8));
    for (auto& x : w.bytes) x = uint8_t(byte(rng));
    const auto s = random_floats(size_t(rows * cols / group), 0.02f), b = random_floats(size_t(rows * cols / group), 0.05f);
    w.scales.resize(s.size());
    w.biases.resize(b.size());
    gguf::quantize_row(DType::BF16, s.data(), w.scales.data(), int64_t(s.size()));
    gguf::quantize_row(DType::BF16, b.data(), w.biases.data(), int64_t(b.size()));
    w.t.dtype = DType::MLX_AFFINE;
    w.t.bits = bits;
    w.t.group_size = group;
    w.t.scale_dtype = DType::BF16;
    w.t.scales = w.scales.data();
    w.t.biases = w.biases.data();
  } else {
    w.bytes.resize(size_t(rows * cols) / block.elems * block.bytes);
    random_blocks(w.bytes, block.bytes, block.halves, block.e);
    w.t.dtype = block.dtype;
  }
  w.t.data = w.bytes.data();
  w.t.nbytes = w.bytes.size();
  return w;
}

// The weight on the device (MLX scales/biases widened to F32, as the backend does).
struct DevWeight {
  std::unique_ptr<Dev<uint8_t>> bytes;
  std::unique_ptr<Dev<float>> scales, biases;
  DeviceWeight d;
  explicit DevWeight(const HostWeight& h) {
    bytes = std::make_unique<Dev<uint8_t>>(h.bytes);
    d.format = h.format;
    d.rows = h.t.rows();
    d.cols = h.t.cols();
    d.data = bytes->p;
    d.row_bytes = int64_t(h.bytes.size()) / d.rows;
    if (h.format == WFormat::mlx) {
      auto widen = [](const std::vector<uint16_t>& v) {
        std::vector<float> f(v.size());
        gguf::dequantize_row(DType::BF16, v.data(), f.data(), int64_t(v.size()));
        return f;
      };
      scales = std::make_unique<Dev<float>>(widen(h.scales));
      biases = std::make_unique<Dev<float>>(widen(h.biases));
      d.scales = scales->p;
      d.biases = biases->p;
      d.bits = h.t.bits;
      d.group_size = h.t.group_size;
    }
  }
};

std::vector<float> dequantized(const HostWeight& h) {
  std::vector<float> out(size_t(h.t.rows() * h.t.cols()));
  weight_format_of(h.t).dequant_rows(h.t, 0, h.t.rows(), out.data());
  return out;
}

std::vector<float> reference_matmul(const std::vector<float>& w, int64_t rows, int64_t cols, const std::vector<float>& x,
                                    int64_t n, const std::vector<float>& bias) {
  std::vector<float> y(size_t(n * rows));
  for (int64_t t = 0; t < n; ++t)
    for (int64_t r = 0; r < rows; ++r) {
      double s = bias.empty() ? 0 : bias[r];
      for (int64_t c = 0; c < cols; ++c) s += double(w[r * cols + c]) * x[t * cols + c];
      y[t * rows + r] = float(s);
    }
  return y;
}

// The activations rounded as quantize_q8 rounds them: blocks of 32, scale
// amax / 127, codes to nearest even.
std::vector<float> int8_rounded(const std::vector<float>& x) {
  std::vector<float> xq(x.size());
  for (size_t b = 0; b < x.size(); b += 32) {
    float amax = 0;
    for (size_t i = 0; i < 32; ++i) amax = std::max(amax, std::fabs(x[b + i]));
    const float d = amax / 127.0f, inv = d > 0 ? 1.0f / d : 0.0f;
    for (size_t i = 0; i < 32; ++i) xq[b + i] = d * std::nearbyint(x[b + i] * inv);
  }
  return xq;
}

// cuBLAS with the scratch cublas_gemm needs; a weight tile of `tile_rows`
// rows (0: as the backend sizes it).
struct CublasScratch {
  CublasGemm g;
  std::string why;
  std::unique_ptr<Dev<uint16_t>> tile, act;
  std::unique_ptr<Dev<float>> scale;
  CublasScratch(const DeviceWeight& w, int64_t n, int64_t tile_rows) {
    g.lib = cublas_library(why);
    if (!g.lib) return;
    check_cublas(g.lib->create(&g.handle), "cublasCreate");
    g.tile_elems = tile_rows > 0 && cublas_gemm_tile_elems(w) > 0 ? tile_rows * w.cols : cublas_gemm_tile_elems(w);
    g.activation_elems = cublas_gemm_activation_elems(w, n);
    g.tokens = n;
    tile = std::make_unique<Dev<uint16_t>>(size_t(g.tile_elems));
    act = std::make_unique<Dev<uint16_t>>(size_t(g.activation_elems));
    scale = std::make_unique<Dev<float>>(size_t(n));
    g.tile = tile->p, g.activations = act->p, g.token_scale = scale->p;
  }
  ~CublasScratch() {
    if (g.handle) g.lib->destroy(g.handle);
  }
};

// The cuBLAS prefill path against the CPU dequantiser in double precision:
// one tile for the whole matrix and tiles of 40 rows (four products, the
// last partial), the output's row stride honoured, the bias added, tokens of
// very different magnitudes (each scaled on its own). F16 activations and
// F16-rounded dequantised weights: relative error near 2e-4; BF16 weights
// (exact) with two-part BF16 activations: near F32; MLX (two-part F16
// activations): the weights' F16 rounding alone.
void expect_cublas_matches(const DevWeight& dw, const std::vector<float>& w, const char* name) {
  if (!cublas_gemm_supports(dw.d)) return;
  const int64_t rows = dw.d.rows, cols = dw.d.cols, ldy = rows + 3;
  for (int64_t n : {9, 70}) {
    CublasScratch cb(dw.d, n, n == 9 ? 0 : 40);
    ASSERT_TRUE(cb.g.lib) << cb.why;
    auto x = random_floats(size_t(n * cols));
    for (int64_t c = 0; c < cols; ++c) x[size_t(cols + c)] *= 3e4f;  // token 1: beyond F16's range unscaled
    for (int64_t c = 0; c < cols; ++c) x[size_t(2 * cols + c)] *= 1e-4f;
    const auto bias = random_floats(size_t(rows));
    const Dev<float> dx(x), dbias(bias);
    std::vector<float> poison(size_t(n * ldy), NAN);
    Dev<float> dy(poison);
    cublas_gemm(cb.g, dw.d, dx.p, n, dy.p, ldy, n == 9 ? nullptr : dbias.p, nullptr);
    const auto y = dy.get();
    std::vector<float> got(size_t(n * rows));
    for (int64_t t = 0; t < n; ++t) {
      for (int64_t r = 0; r < rows; ++r) got[size_t(t * rows + r)] = y[size_t(t * ldy + r)];
      for (int64_t r = rows; r < ldy; ++r) ASSERT_TRUE(std::isnan(y[size_t(t * ldy + r)])) << name << " wrote past row " << rows;
    }
    const auto ref = reference_matmul(w, rows, cols, x, n, n == 9 ? std::vector<float>{} : bias);
    // Two-part activations (BF16, MLX): the F16 rounding of MLX's decoded weights remains.
    const double tol = dw.d.format == WFormat::bf16 ? 3e-5 : dw.d.format == WFormat::mlx ? 6e-4 : 1e-3;
    for (int64_t t = 0; t < 3; ++t) {  // the scaled tokens, each on its own
      const std::vector<float> g1(got.begin() + t * rows, got.begin() + (t + 1) * rows);
      const std::vector<float> r1(ref.begin() + t * rows, ref.begin() + (t + 1) * rows);
      EXPECT_LT(rel_err(g1, r1), tol) << name << " cuBLAS n=" << n << " token " << t;
    }
    EXPECT_LT(rel_err(got, ref), tol) << name << " cuBLAS n=" << n;
  }
}

struct FormatCase {
  WFormat format;
  const char* name;
  int bits = 0;
};

class WeightFormats : public ::testing::TestWithParam<FormatCase> {};

TEST_P(WeightFormats, GemvGemmAndEmbeddingMatchTheCpuDequantiser) {
  REQUIRE_DEVICE();
  const FormatCase fc = GetParam();
  const int64_t rows = 131, cols = 512;  // rows: partial warps and tiles
  const HostWeight h = make_weight(fc.format, rows, cols, fc.bits ? fc.bits : 4);
  const DevWeight dw(h);
  const auto w = dequantized(h);
  const auto bias = random_floats(size_t(rows));
  const Dev<float> dbias(bias);
  for (int64_t n : {1, 3, 8, 70}) {
    const auto x = random_floats(size_t(n * cols));
    const Dev<float> dx(x);
    Dev<float> dy(size_t(n * rows));
    const auto ref = reference_matmul(w, rows, cols, x, n, bias);
    if (n <= kGemvMaxTokens) {  // the GEMV's one-row-per-warp variant (the default is two)
      set_gemv_rows_per_warp(1);
      linear(dw.d, dx.p, n, dy.p, rows, dbias.p, nullptr);
      set_gemv_rows_per_warp(2);
      EXPECT_LT(rel_err(dy.get(), ref), 2e-6) << fc.name << " n=" << n << " one row per warp";
    }
    linear(dw.d, dx.p, n, dy.p, rows, dbias.p, nullptr);
    // The GEMV (n <= 8) and F32 weights are F32 arithmetic; the tensor-core GEMM keeps the activations
    // at F32 accuracy (two TF32 parts), so 16-bit weights (exact in TF32) stay near F32, others lose
    // what TF32 rounding takes from the decoded weights.
    const bool f32_math = n <= kGemvMaxTokens || fc.format == WFormat::f32;
    const bool sixteen_bit = fc.format == WFormat::f16 || fc.format == WFormat::bf16;
    const double tol = f32_math ? 2e-6 : sixteen_bit ? 2e-5 : 1e-3;
    EXPECT_LT(rel_err(dy.get(), ref), tol) << fc.name << " n=" << n;
  }
  expect_cublas_matches(dw, w, fc.name);
  std::vector<int32_t> ids = {5, 0, 130, 77, 5};
  const Dev<int32_t> dids(ids);
  Dev<float> demb(ids.size() * size_t(cols));
  embedding(dw.d, dids.p, int64_t(ids.size()), demb.p, 0.5f, nullptr);
  const auto emb = demb.get();
  for (size_t t = 0; t < ids.size(); ++t)
    for (int64_t c = 0; c < cols; ++c)
      ASSERT_EQ(emb[t * cols + c], w[ids[t] * cols + c] * 0.5f) << fc.name << " token " << t << " col " << c;
}

// The int8 GEMV (activations quantised to int8 blocks of 32) against the
// dequantised weights times the activations quantised as its rule says
// (scale amax / 127, codes rounded to nearest even), and the split layouts of
// Q8_0 / Q6_K through every decode_slice kernel against the CPU dequantiser.
// The F16 / BF16 decode GEMV with 16-byte loads: F32 arithmetic, as the first GEMV.
TEST(CudaKernels, WideGemvMatchesTheCpuDequantiser) {
  REQUIRE_DEVICE();
  const int64_t rows = 131, cols = 2056;  // cols: a multiple of 8, not of 32
  for (const FormatCase fc : {FormatCase{WFormat::f16, "f16"}, FormatCase{WFormat::bf16, "bf16"}}) {
    const HostWeight h = make_weight(fc.format, rows, cols);
    const DevWeight dw(h);
    ASSERT_TRUE(gemv_wide_supports(dw.d)) << fc.name;
    const auto w = dequantized(h);
    const auto bias = random_floats(size_t(rows));
    const Dev<float> dbias(bias);
    for (int64_t n : {1, 3, 8, 20}) {
      const auto x = random_floats(size_t(n * cols));
      const Dev<float> dx(x);
      Dev<float> dy(size_t(n * rows));
      gemv_wide(dw.d, dx.p, n, dy.p, rows, dbias.p, nullptr);
      const auto expected = reference_matmul(w, rows, cols, x, n, bias);
      EXPECT_LT(rel_err(dy.get(), expected), 2e-6) << fc.name << " n=" << n;
      // One token: a row's 32-unit pieces over 1, 2 or 4 warps (131 rows: the
      // last block's warps partly past the end), each added in a fixed order.
      if (n != 1) continue;
      for (const int split : {1, 2, 4}) {
        Dev<float> split_y(static_cast<size_t>(rows));
        const GemvJob job{dw.d, split_y.p, rows, dbias.p};
        gemv_wide_jobs(&job, 1, dx.p, n, nullptr, split);
        EXPECT_LT(rel_err(split_y.get(), expected), 2e-6) << fc.name << " split " << split;
      }
    }
  }
  // Rows of 4,096 and more go over 4 warps, shorter ones over fewer (the
  // rule's own choice: not when a measurement fixes the split or the loads).
  if (std::getenv("ALLM_CUDA_GEMV_SPLIT") || std::getenv("ALLM_CUDA_GEMV_UNROLL")) return;
  EXPECT_EQ(gemv_wide_split(4096), 4);
  EXPECT_EQ(gemv_wide_split(14336), 4);
  EXPECT_EQ(gemv_wide_split(2048), 2);
  EXPECT_EQ(gemv_wide_split(512), 1);
}

// The device bytes of a weight as the backend stores them: Q8_0 and Q6_K rows
// in the int8 kernels' split layouts (split_blocks.cpp), other formats as they are.
HostWeight split_as_the_backend_does(const HostWeight& h) {
  HostWeight dev = h;
  const int64_t rows = h.t.rows(), cols = h.t.cols();
  if (h.format == WFormat::q8_0) dev.bytes = split_q8_0(h.bytes.data(), rows, cols), dev.format = WFormat::q8_0_split;
  if (h.format == WFormat::q6_k) dev.bytes = split_q6_k(h.bytes.data(), rows, cols), dev.format = WFormat::q6_k_split;
  return dev;
}

TEST(CudaKernels, Int8GemvAndSplitLayouts) {
  REQUIRE_DEVICE();
  const int64_t rows = 131, cols = 2048;  // split Q6_K rows stay 16-byte aligned at 8 blocks
  for (const FormatCase fc : {FormatCase{WFormat::q4_k, "q4_k"}, FormatCase{WFormat::q8_0, "q8_0"},
                              FormatCase{WFormat::q6_k, "q6_k"}}) {
    HostWeight h = make_weight(fc.format, rows, cols);
    const auto w = dequantized(h);
    const DevWeight dw(split_as_the_backend_does(h));
    ASSERT_TRUE(gemv_int8_supports(dw.d)) << fc.name;
    const auto bias = random_floats(size_t(rows));
    const Dev<float> dbias(bias);
    for (int64_t n : {1, 3, 8, 20, 70}) {
      const auto x = random_floats(size_t(n * cols));
      const Dev<float> dx(x);
      Dev<float> dy(size_t(n * rows));
      linear(dw.d, dx.p, n, dy.p, rows, dbias.p, nullptr);  // the F32 paths over the (split) layout
      EXPECT_LT(rel_err(dy.get(), reference_matmul(w, rows, cols, x, n, bias)), n <= kGemvMaxTokens ? 2e-6 : 1e-3)
          << fc.name << " n=" << n;
      if (n > 32) continue;  // the backend's GEMV limit (chunks of kGemvMaxTokens)
      const auto xq = int8_rounded(x);
      Dev<int8_t> q(size_t(n * cols));
      Dev<float2> ds(size_t(n * cols / 32));
      quantize_q8(dx.p, n, cols, q.p, ds.p, nullptr);
      gemv_int8(dw.d, q.p, ds.p, n, dy.p, rows, dbias.p, nullptr);
      EXPECT_LT(rel_err(dy.get(), reference_matmul(w, rows, cols, xq, n, bias)), 1e-5) << fc.name << " int8 n=" << n;
    }
    expect_cublas_matches(dw, w, fc.name);  // the split layouts as the backend stores them
    std::vector<int32_t> ids = {5, 0, 130};
    const Dev<int32_t> dids(ids);
    Dev<float> demb(ids.size() * size_t(cols));
    embedding(dw.d, dids.p, int64_t(ids.size()), demb.p, 1.0f, nullptr);
    const auto emb = demb.get();
    for (size_t t = 0; t < ids.size(); ++t)
      for (int64_t c = 0; c < cols; ++c)
        ASSERT_EQ(emb[t * cols + c], w[ids[t] * cols + c]) << fc.name << " token " << t << " col " << c;
  }
}

// Long rows: one token's GEMV loads 4 or 8 units per lane (the whole row in
// one pass: gemv_int8.cu's single_token_unroll), launched as a programmatic
// dependent of the quantisation before it (pdl.cuh).
TEST(CudaKernels, Int8GemvLongRows) {
  REQUIRE_DEVICE();
  const int64_t rows = 37;
  for (const int64_t cols : {int64_t(6144), int64_t(14336)})
    for (const FormatCase fc : {FormatCase{WFormat::q4_k, "q4_k"}, FormatCase{WFormat::q8_0, "q8_0"},
                                FormatCase{WFormat::q6_k, "q6_k"}}) {
      HostWeight h = make_weight(fc.format, rows, cols);
      const auto w = dequantized(h);
      const DevWeight dw(split_as_the_backend_does(h));
      ASSERT_TRUE(gemv_int8_supports(dw.d)) << fc.name;
      const auto bias = random_floats(size_t(rows));
      const Dev<float> dbias(bias);
      for (int64_t n : {1, 3}) {
        const auto x = random_floats(size_t(n * cols));
        const Dev<float> dx(x);
        Dev<float> dy(size_t(n * rows));
        Dev<int8_t> q(size_t(n * cols));
        Dev<float2> ds(size_t(n * cols / 32));
        quantize_q8(dx.p, n, cols, q.p, ds.p, nullptr);
        gemv_int8(dw.d, q.p, ds.p, n, dy.p, rows, dbias.p, nullptr);
        EXPECT_LT(rel_err(dy.get(), reference_matmul(w, rows, cols, int8_rounded(x), n, bias)), 1e-5)
            << fc.name << " cols=" << cols << " n=" << n;
      }
    }
}

// Matrices of one format launched together (a decoder's q/k/v): each output
// the bytes its own launch gives.
TEST(CudaKernels, GroupedGemvsMatchSeparateOnes) {
  REQUIRE_DEVICE();
  const int64_t cols = 2048, rows[3] = {37, 64, 5};
  for (const WFormat format : {WFormat::q4_k, WFormat::f16}) {
    std::vector<HostWeight> hosts;
    std::vector<std::unique_ptr<DevWeight>> devs;
    for (int64_t r : rows) {
      hosts.push_back(make_weight(format, r, cols));
      devs.push_back(std::make_unique<DevWeight>(hosts.back()));
    }
    for (int64_t n : {1, 3, 11}) {
      const auto x = random_floats(size_t(n * cols));
      const Dev<float> dx(x);
      Dev<int8_t> q(static_cast<size_t>(n * cols));
      Dev<float2> ds(static_cast<size_t>(n * cols / 32));
      quantize_q8(dx.p, n, cols, q.p, ds.p, nullptr);
      std::vector<std::unique_ptr<Dev<float>>> together, alone;
      GemvJob jobs[3];
      for (int k = 0; k < 3; ++k) {
        together.push_back(std::make_unique<Dev<float>>(static_cast<size_t>(n * rows[k])));
        alone.push_back(std::make_unique<Dev<float>>(static_cast<size_t>(n * rows[k])));
        jobs[k] = GemvJob{devs[size_t(k)]->d, together.back()->p, rows[k], nullptr};
        if (format == WFormat::f16) gemv_wide(devs[size_t(k)]->d, dx.p, n, alone.back()->p, rows[k], nullptr, nullptr);
        else gemv_int8(devs[size_t(k)]->d, q.p, ds.p, n, alone.back()->p, rows[k], nullptr, nullptr);
      }
      if (format == WFormat::f16) gemv_wide_jobs(jobs, 3, dx.p, n, nullptr);
      else gemv_int8_jobs(jobs, 3, q.p, ds.p, n, nullptr);
      for (int k = 0; k < 3; ++k) EXPECT_EQ(together[size_t(k)]->get(), alone[size_t(k)]->get()) << int(format) << " job " << k << " n=" << n;
    }
  }
}

// gemm_int8 (int8 tensor cores on the quantised blocks) for each of its
// formats, as the backend stores them: rows and token counts that are not
// multiples of its tiles (64 rows; 8, 16, 32 or 64 tokens: 5 tokens as with
// ALLM_CUDA_MMQ_MIN <= 5), a row of several
// blocks (Q4_K: 9, an odd number of 256-element steps), the row's steps
// split over CTAs with partial sums in scratch and not split, the output's
// row stride honoured (nothing written past `rows`), with and without bias.
// Against the dequantised weights times the activations as quantize_q8 rounds
// them the integer products are exact and only F32 summation differs: 1e-5, the
// int8 GEMV's bound. Against the F32 activations: rounding each block of 32 to
// steps of amax / 127 adds uniform noise of rms amax / (127 * sqrt(12)) =
// amax / 440, and amax of 32 standard normal values is about 2.1 to 2.5, so
// about 0.5% of the activations' rms and, the weights being independent of
// it, about 0.5% of the product's; 1.5e-2 leaves a margin of three.
TEST(CudaKernels, Int8GemmMatchesTheCpuDequantiser) {
  REQUIRE_DEVICE();
  const int64_t rows = 200, ldy = rows + 5;
  struct Case {
    WFormat format;
    const char* name;
    int64_t cols;  // split Q8_0 / Q6_K rows are 16-byte aligned at multiples of 8 blocks
  };
  for (const Case fc : {Case{WFormat::q4_k, "q4_k", 2304}, Case{WFormat::q8_0, "q8_0", 2048},
                        Case{WFormat::q6_k, "q6_k", 2048}}) {
    const int64_t cols = fc.cols;
    const HostWeight h = make_weight(fc.format, rows, cols);
    const auto w = dequantized(h);
    const DevWeight dw(split_as_the_backend_does(h));
    ASSERT_TRUE(gemm_int8_supports(dw.d)) << fc.name;
    const auto bias = random_floats(size_t(rows));
    const Dev<float> dbias(bias);
    Dev<float> partial{size_t(kGemmInt8Partials)};
    for (int64_t n : {5, 9, 17, 33, 100}) {
      const auto x = random_floats(size_t(n * cols));
      const Dev<float> dx(x);
      Dev<int8_t> q(size_t(n * cols));
      Dev<float2> ds(size_t(n * cols / 32));
      quantize_q8(dx.p, n, cols, q.p, ds.p, nullptr);
      for (bool split : {false, true}) {
        const std::vector<float> b = split ? bias : std::vector<float>{};
        const auto ref_q = reference_matmul(w, rows, cols, int8_rounded(x), n, b);
        const auto ref = reference_matmul(w, rows, cols, x, n, b);
        std::vector<float> poison(size_t(n * ldy), NAN);
        Dev<float> dy(poison);
        gemm_int8(dw.d, q.p, ds.p, n, dy.p, ldy, split ? dbias.p : nullptr, split ? partial.p : nullptr,
                  split ? int64_t(partial.n) : 0, nullptr);
        const auto y = dy.get();
        std::vector<float> got(size_t(n * rows));
        for (int64_t t = 0; t < n; ++t) {
          for (int64_t r = 0; r < rows; ++r) got[size_t(t * rows + r)] = y[size_t(t * ldy + r)];
          for (int64_t r = rows; r < ldy; ++r)
            ASSERT_TRUE(std::isnan(y[size_t(t * ldy + r)])) << fc.name << " n=" << n << " wrote past row " << rows;
        }
        EXPECT_LT(rel_err(got, ref_q), 1e-5) << fc.name << " n=" << n << (split ? " split" : "");
        EXPECT_LT(rel_err(got, ref), 1.5e-2) << fc.name << " n=" << n << (split ? " split" : "") << " (F32 activations)";
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(
    Cuda, WeightFormats,
    ::testing::Values(FormatCase{WFormat::f32, "f32"}, FormatCase{WFormat::f16, "f16"}, FormatCase{WFormat::bf16, "bf16"},
                      FormatCase{WFormat::mlx, "mlx4", 4}, FormatCase{WFormat::mlx, "mlx8", 8},
                      FormatCase{WFormat::mlx, "mlx3", 3}, FormatCase{WFormat::q4_0, "q4_0"},
                      FormatCase{WFormat::q4_1, "q4_1"}, FormatCase{WFormat::q5_0, "q5_0"},
                      FormatCase{WFormat::q5_1, "q5_1"}, FormatCase{WFormat::q8_0, "q8_0"},
                      FormatCase{WFormat::q2_k, "q2_k"}, FormatCase{WFormat::q3_k, "q3_k"},
                      FormatCase{WFormat::q4_k, "q4_k"}, FormatCase{WFormat::q5_k, "q5_k"},
                      FormatCase{WFormat::q6_k, "q6_k"}, FormatCase{WFormat::mxfp4, "mxfp4"}),
    [](const ::testing::TestParamInfo<FormatCase>& i) { return std::string(i.param.name); });

TEST(CudaLinear, OddWidthPlainWeights) {
  REQUIRE_DEVICE();
  const int64_t rows = 40, cols = 50;  // not a multiple of 32: the guarded slice paths
  for (WFormat f : {WFormat::f32, WFormat::f16, WFormat::bf16}) {
    const HostWeight h = make_weight(f, rows, cols);
    const DevWeight dw(h);
    const auto w = dequantized(h);
    for (int64_t n : {1, 9}) {
      const auto x = random_floats(size_t(n * cols));
      const Dev<float> dx(x);
      Dev<float> dy(size_t(n * rows));
      linear(dw.d, dx.p, n, dy.p, rows, nullptr, nullptr);
      EXPECT_LT(rel_err(dy.get(), reference_matmul(w, rows, cols, x, n, {})), 2e-6);
    }
    expect_cublas_matches(dw, w, "odd width");
  }
}

// ---------------------------------------------------------------- small ops

TEST(CudaOps, RmsNormMatchesCpu) {
  REQUIRE_DEVICE();
  auto cpu = make_cpu_backend(1);
  const int64_t n = 5;
  // 300: one element per thread; 9000: past the rows held in registers (the
  // loop kernel); 4096 and 16384: rows split over a cluster of blocks (one
  // element a thread; two).
  for (const int64_t dim : {int64_t(300), int64_t(9000), int64_t(4096), int64_t(16384)}) {
    const auto x = random_floats(size_t(n * dim), 3), w = random_floats(size_t(dim));
    for (bool plus_one : {false, true}) {
      std::vector<float> ref(x.size());
      cpu->rms_norm(x.data(), w.data(), n, dim, 1e-6f, plus_one, ref.data());
      Dev<float> dx(x);
      const Dev<float> dw(w);
      rms_norm(dx.p, dw.p, n, dim, 1e-6f, plus_one, dx.p, nullptr);  // in place, as the decoder calls it
      EXPECT_LT(rel_err(dx.get(), ref), 1e-6) << "dim " << dim;
    }
  }
}

// rms_norm and gated_activation writing their output's int8 codes as well
// (the fused quantisation the backend uses before an int8 matmul): the same
// bytes quantize_q8 makes of that output.
void expect_codes_of(const Dev<float>& out, int64_t elems, const Dev<int8_t>& q, const Dev<float2>& ds,
                     const char* what) {
  Dev<int8_t> q_ref{size_t(elems)};
  Dev<float2> ds_ref{size_t(elems / 32)};
  quantize_q8(out.p, 1, elems, q_ref.p, ds_ref.p, nullptr);
  const auto a = q.get(), b = q_ref.get();
  const auto da = ds.get(), db = ds_ref.get();
  for (int64_t i = 0; i < elems; ++i) ASSERT_EQ(a[size_t(i)], b[size_t(i)]) << what << " code " << i;
  for (int64_t i = 0; i < elems / 32; ++i) {
    ASSERT_EQ(da[size_t(i)].x, db[size_t(i)].x) << what << " block " << i;
    ASSERT_EQ(da[size_t(i)].y, db[size_t(i)].y) << what << " block " << i;
  }
}

// dim: 4096 + 32 * 7, rows of blocks that do not fill the norm's threads
// evenly; 4096, rows split over a cluster of blocks.
void expect_fused_codes(int64_t dim) {
  auto cpu = make_cpu_backend(1);
  const int64_t n = 3;
  const auto x = random_floats(size_t(n * dim), 5), w = random_floats(size_t(dim));
  std::vector<float> ref(x.size());
  cpu->rms_norm(x.data(), w.data(), n, dim, 1e-6f, false, ref.data());
  Dev<float> dx(x);
  const Dev<float> dw(w);
  Dev<int8_t> q(static_cast<size_t>(n * dim));
  Dev<float2> ds(static_cast<size_t>(n * dim / 32));
  rms_norm(dx.p, dw.p, n, dim, 1e-6f, false, dx.p, nullptr, q.p, ds.p);
  EXPECT_LT(rel_err(dx.get(), ref), 1e-6);
  expect_codes_of(dx, n * dim, q, ds, "rms_norm");

  // The residual add and the norm in one kernel: the sum written back, its norm and codes.
  const auto r = random_floats(size_t(n * dim), 8);
  auto sum = x;
  cpu->add(sum.data(), r.data(), n * dim);
  cpu->rms_norm(sum.data(), w.data(), n, dim, 1e-6f, true, ref.data());
  Dev<float> dsum(x), dout(static_cast<size_t>(n * dim));
  const Dev<float> dr(r);
  add_rms_norm(dsum.p, dr.p, dw.p, n, dim, 1e-6f, true, dout.p, nullptr, q.p, ds.p);
  EXPECT_EQ(dsum.get(), sum);
  EXPECT_LT(rel_err(dout.get(), ref), 1e-6);
  expect_codes_of(dout, n * dim, q, ds, "add_rms_norm");
}

TEST(CudaOps, FusedInt8CodesMatchQuantizeQ8) {
  REQUIRE_DEVICE();
  for (const int64_t dim : {int64_t(4096 + 32 * 7), int64_t(4096)}) {
    SCOPED_TRACE("dim " + std::to_string(dim));
    expect_fused_codes(dim);
  }
  auto cpu = make_cpu_backend(1);
  const int64_t count = 32 * 101;
  const auto g = random_floats(size_t(count), 6), u = random_floats(size_t(count), 7);
  const Dev<float> dg(g), du(u);
  std::vector<float> gref(static_cast<size_t>(count));
  cpu->gated_activation(g.data(), u.data(), count, Activation::silu, gref.data(), 0.0f);
  Dev<float> out(static_cast<size_t>(count));
  Dev<int8_t> gq(static_cast<size_t>(count));
  Dev<float2> gds(static_cast<size_t>(count / 32));
  gated_activation(dg.p, du.p, count, int(Activation::silu), out.p, 0.0f, nullptr, gq.p, gds.p);
  EXPECT_LT(rel_err(out.get(), gref), 1e-6);
  expect_codes_of(out, count, gq, gds, "gated_activation");
}

TEST(CudaOps, RopeTableAndRotation) {
  REQUIRE_DEVICE();
  const int64_t n = 6, heads = 3, head_dim = 64, rotary = 48, half = rotary / 2;  // partial rotary
  std::vector<int64_t> pos = {0, 1, 7, 300, 4095, 12};
  std::vector<float> inv(half);
  for (int64_t i = 0; i < half; ++i) inv[i] = std::pow(10000.0f, -2.0f * i / rotary);
  const float attn_scale = 1.25f;
  const Dev<int64_t> dpos(pos);
  const Dev<float> dinv(inv);
  Dev<float> table(size_t(n * rotary));
  rope_table(dpos.p, n, dinv.p, rotary, attn_scale, table.p, nullptr);
  const auto tab = table.get();
  for (int64_t t = 0; t < n; ++t)
    for (int64_t i = 0; i < half; ++i) {
      const float a = float(pos[t]) * inv[i];
      ASSERT_NEAR(tab[t * rotary + i], std::cos(a) * attn_scale, 2e-6) << t << " " << i;
      ASSERT_NEAR(tab[t * rotary + half + i], std::sin(a) * attn_scale, 2e-6) << t << " " << i;
    }
  for (bool interleaved : {false, true}) {
    const auto x = random_floats(size_t(n * heads * head_dim));
    auto ref = x;
    for (int64_t t = 0; t < n; ++t)
      for (int64_t h = 0; h < heads; ++h) {
        float* v = ref.data() + (t * heads + h) * head_dim;
        for (int64_t i = 0; i < half; ++i) {
          const int64_t ia = interleaved ? 2 * i : i, ib = interleaved ? 2 * i + 1 : i + half;
          const float c = tab[t * rotary + i], s = tab[t * rotary + half + i], a = v[ia], b = v[ib];
          v[ia] = a * c - b * s;
          v[ib] = b * c + a * s;
        }
      }
    Dev<float> dx(x);
    rope(dx.p, n, heads, head_dim, rotary, interleaved, table.p, nullptr);
    EXPECT_LT(rel_err(dx.get(), ref), 1e-6) << "interleaved=" << interleaved;
    // q and k in one launch (rope_pair): the bytes of two separate ropes.
    const auto k = random_floats(size_t(n * 2 * head_dim), 9);
    Dev<float> dq(x), dk(k), dk_alone(k);
    rope_pair(dq.p, heads, dk.p, 2, n, head_dim, rotary, interleaved, table.p, nullptr);
    rope(dk_alone.p, n, 2, head_dim, rotary, interleaved, table.p, nullptr);
    EXPECT_EQ(dq.get(), dx.get()) << "interleaved=" << interleaved;
    EXPECT_EQ(dk.get(), dk_alone.get()) << "interleaved=" << interleaved;
  }
}

TEST(CudaOps, ElementwiseMatchCpu) {
  REQUIRE_DEVICE();
  auto cpu = make_cpu_backend(1);
  const int64_t count = 1000;
  const auto g = random_floats(count, 4), u = random_floats(count, 4);
  const Dev<float> dg(g), du(u);
  for (Activation act : {Activation::silu, Activation::gelu_tanh, Activation::swiglu_clamped}) {
    std::vector<float> ref(count);
    cpu->gated_activation(g.data(), u.data(), count, act, ref.data(), 3.0f);
    Dev<float> out(count);
    gated_activation(dg.p, du.p, count, int(act), out.p, 3.0f, nullptr);
    EXPECT_LT(rel_err(out.get(), ref), 1e-6) << int(act);
  }
  auto ref = g;
  cpu->add(ref.data(), u.data(), count);
  cpu->scale(ref.data(), count, 0.3f);
  cpu->softcap(ref.data(), count, 2.0f);
  Dev<float> y(g);
  add(y.p, du.p, count, nullptr);
  scale(y.p, count, 0.3f, nullptr);
  softcap(y.p, count, 2.0f, nullptr);
  EXPECT_LT(rel_err(y.get(), ref), 1e-6);
}

TEST(CudaOps, MoeRouteGatherCombine) {
  REQUIRE_DEVICE();
  const int64_t n = 37, E = 8, K = 3, dim = 20;
  auto logits = random_floats(size_t(n * E), 2);
  logits[5 * E + 2] = logits[5 * E + 6];  // a tie: the lower index first
  for (bool renorm : {false, true}) {
    const Dev<float> dl(logits);
    Dev<int32_t> chosen(size_t(n * K));
    Dev<float> weights(size_t(n * K));
    moe_route(dl.p, n, E, K, renorm, chosen.p, weights.p, nullptr);
    const auto c = chosen.get();
    const auto w = weights.get();
    for (int64_t t = 0; t < n; ++t) {
      const float* r = logits.data() + t * E;
      float mx = r[0];
      for (int64_t e = 1; e < E; ++e) mx = std::max(mx, r[e]);
      double sum = 0;
      std::vector<float> p(E);
      for (int64_t e = 0; e < E; ++e) sum += (p[e] = std::exp(r[e] - mx));
      for (int64_t e = 0; e < E; ++e) p[e] = float(p[e] / sum);
      std::vector<int> idx(E);
      for (int e = 0; e < E; ++e) idx[e] = e;
      std::stable_sort(idx.begin(), idx.end(), [&](int a, int b) { return p[a] > p[b]; });
      float picked = 0;
      for (int64_t j = 0; j < K; ++j) picked += p[idx[j]];
      for (int64_t j = 0; j < K; ++j) {
        ASSERT_EQ(c[t * K + j], idx[j]) << "token " << t << " choice " << j;
        ASSERT_NEAR(w[t * K + j], renorm ? p[idx[j]] / picked : p[idx[j]], 1e-6);
      }
    }
    // Expert 2's tokens: gather their rows, "run" the expert (identity), add back weighted.
    const auto in = random_floats(size_t(n * dim));
    std::vector<int32_t> rows, slots;
    for (int64_t s = 0; s < n * K; ++s)
      if (c[s] == 2) rows.push_back(int32_t(s / K)), slots.push_back(int32_t(s));
    ASSERT_FALSE(rows.empty());
    const Dev<float> din(in);
    const Dev<int32_t> drows(rows), dslots(slots);
    Dev<float> gathered(rows.size() * dim);
    gather_rows(din.p, drows.p, int64_t(rows.size()), dim, gathered.p, nullptr);
    auto out = random_floats(size_t(n * dim));
    auto ref = out;
    for (size_t i = 0; i < rows.size(); ++i)
      for (int64_t d = 0; d < dim; ++d) ref[rows[i] * dim + d] += w[slots[i]] * in[rows[i] * dim + d];
    Dev<float> dout(out);
    moe_combine(gathered.p, dslots.p, int64_t(slots.size()), dim, K, weights.p, dout.p, nullptr);
    EXPECT_LT(rel_err(dout.get(), ref), 1e-7);
  }
}

// ---------------------------------------------------------------- KV cache

// A one-layer paged cache in host memory laid out as a KVPool lays it out
// (blocks of `block` positions; per block, kv_heads key areas then value areas).
struct HostKV {
  int64_t kv_heads, d, block, capacity, row_bytes, head_stride, k_offset, v_offset, block_bytes;
  KVType type;
  std::vector<std::vector<uint8_t>> blocks;
  HostKV(KVType t, int64_t kvh, int64_t dim, int64_t blk, int64_t cap, int64_t v_pad = 8)
      : kv_heads(kvh), d(dim), block(blk), capacity(cap), type(t) {
    row_bytes = kv_row_bytes(t, d);
    head_stride = block * row_bytes;
    k_offset = 0;
    v_offset = kv_heads * head_stride + v_pad;  // not a multiple of anything in particular
    block_bytes = v_offset + kv_heads * head_stride;
    blocks.assign(size_t((cap + blk - 1) / blk), std::vector<uint8_t>(size_t(block_bytes), 0));
  }
  uint8_t* row(int64_t pos, int64_t g, bool value) {
    return blocks[pos / block].data() + (value ? v_offset : k_offset) + g * head_stride + (pos % block) * row_bytes;
  }
};

struct DevKV {
  std::vector<std::unique_ptr<Dev<uint8_t>>> blocks;
  std::unique_ptr<Dev<const uint8_t*>> table;
  DeviceKV view;
  explicit DevKV(const HostKV& h) {
    std::vector<const uint8_t*> ptrs;
    for (auto& b : h.blocks) {
      blocks.push_back(std::make_unique<Dev<uint8_t>>(b));
      ptrs.push_back(blocks.back()->p);
    }
    table = std::make_unique<Dev<const uint8_t*>>(ptrs);
    view = DeviceKV{table->p, h.k_offset, h.v_offset, h.block, h.head_stride, h.row_bytes, int32_t(h.type)};
  }
};

TEST(CudaKV, AppendWritesTheBytesKvEncodeRowWrites) {
  REQUIRE_DEVICE();
  for (KVType type : {KVType::f32, KVType::f16, KVType::q8_0})
    for (int64_t d : {64, 80}) {
      const int64_t kvh = 2, n = 21, pos0 = 5;
      HostKV host(type, kvh, d, 16, 64);
      DevKV dev(host);
      auto k = random_floats(size_t(n * kvh * d), 2), v = random_floats(size_t(n * kvh * d), 2);
      k[3] = 70000.0f;  // past the F16 range: saturates
      const Dev<float> dk(k), dv(v);
      // Tokens [0, 10) through the one-sequence entry, [10, n) as two sequences of one batched launch.
      kv_append(dev.view, dk.p, dv.p, 10, pos0, kvh, d, nullptr);
      std::vector<DeviceSeq> parts(2);
      parts[0].kv = parts[1].kv = dev.view;
      parts[0].a = dk.p + 10 * kvh * d, parts[0].b = dv.p + 10 * kvh * d, parts[0].n = 4, parts[0].pos0 = pos0 + 10;
      parts[1].a = dk.p + 14 * kvh * d, parts[1].b = dv.p + 14 * kvh * d, parts[1].n = n - 14, parts[1].pos0 = pos0 + 14;
      const Dev<DeviceSeq> dparts(parts);
      kv_append_seqs(dparts.p, 2, n - 14, kvh, d, nullptr);
      for (int64_t t = 0; t < n; ++t)
        for (int64_t g = 0; g < kvh; ++g) {
          kv_encode_row(type, k.data() + (t * kvh + g) * d, d, host.row(pos0 + t, g, false));
          kv_encode_row(type, v.data() + (t * kvh + g) * d, d, host.row(pos0 + t, g, true));
        }
      for (size_t b = 0; b < host.blocks.size(); ++b)
        ASSERT_EQ(dev.blocks[b]->get(), host.blocks[b]) << kv_type_name(type) << " d=" << d << " block " << b;
    }
}

// The decoder's q/k rope folded into the append (KVRope): the cache gets
// the bytes of rope_pair then kv_append, and q and k are left rotated as
// rope_pair leaves them. Two sequences of one key buffer (the second's table
// rows start past the first's), partial rotary, both pair layouts.
TEST(CudaKV, RopeFoldedIntoAppendMatchesRopeThenAppend) {
  REQUIRE_DEVICE();
  const int64_t n = 7, heads = 6, kvh = 2, d = 64, rotary = 48, half = rotary / 2;
  std::vector<int64_t> pos(n);
  for (int64_t t = 0; t < n; ++t) pos[size_t(t)] = 3 * t + 11;
  std::vector<float> inv(half);
  for (int64_t i = 0; i < half; ++i) inv[size_t(i)] = std::pow(10000.0f, -2.0f * float(i) / rotary);
  const Dev<int64_t> dpos(pos);
  const Dev<float> dinv(inv);
  Dev<float> table(size_t(n * rotary));
  rope_table(dpos.p, n, dinv.p, rotary, 1.0f, table.p, nullptr);
  for (KVType type : {KVType::f16, KVType::q8_0})
    for (bool interleaved : {false, true}) {
      const auto q = random_floats(size_t(n * heads * d), 12), k = random_floats(size_t(n * kvh * d), 13),
                 v = random_floats(size_t(n * kvh * d), 14);
      HostKV host(type, kvh, d, 16, 64);
      DevKV ref_cache(host), fused_cache(host);
      Dev<float> ref_q(q), ref_k(k), fused_q(q), fused_k(k);
      const Dev<float> dv(v);
      auto seqs_over = [&](const DevKV& cache, const float* keys) {
        std::vector<DeviceSeq> s(2);
        s[0].kv = s[1].kv = cache.view;
        s[0].a = keys, s[0].b = dv.p, s[0].n = 3, s[0].pos0 = 0;
        s[1].a = keys + 3 * kvh * d, s[1].b = dv.p + 3 * kvh * d, s[1].n = n - 3, s[1].pos0 = 20;
        return s;
      };
      rope_pair(ref_q.p, heads, ref_k.p, kvh, n, d, rotary, interleaved, table.p, nullptr);
      const Dev<DeviceSeq> ref_seqs(seqs_over(ref_cache, ref_k.p));
      kv_append_seqs(ref_seqs.p, 2, n - 3, kvh, d, nullptr);
      const Dev<DeviceSeq> fused_seqs(seqs_over(fused_cache, fused_k.p));
      const KVRope rope{table.p, fused_k.p, fused_q.p, heads, n, half, interleaved ? 1 : 0};
      kv_append_seqs(fused_seqs.p, 2, n - 3, kvh, d, nullptr, rope);
      const std::string what = std::string(kv_type_name(type)) + (interleaved ? " interleaved" : " neox");
      EXPECT_EQ(fused_q.get(), ref_q.get()) << what;
      EXPECT_EQ(fused_k.get(), ref_k.get()) << what;
      for (size_t b = 0; b < host.blocks.size(); ++b)
        ASSERT_EQ(fused_cache.blocks[b]->get(), ref_cache.blocks[b]->get()) << what << " block " << b;
    }
}

TEST(CudaKV, AttentionMatchesCpuBackend) {
  REQUIRE_DEVICE();
  auto cpu = make_cpu_backend(1);
  struct Case { KVType type; int64_t d, heads, kv_heads, window; float softcap; bool sinks; int64_t n, pos0; };
  const Case cases[] = {
      {KVType::f32, 64, 8, 2, 0, 0, false, 1, 40},   {KVType::f32, 64, 8, 2, 0, 0, false, 7, 0},
      {KVType::f16, 128, 4, 4, 0, 0, false, 3, 50},  {KVType::q8_0, 80, 6, 2, 0, 0, false, 2, 33},
      {KVType::f32, 64, 4, 1, 8, 0, false, 5, 30},   {KVType::f16, 32, 4, 2, 0, 30.0f, false, 4, 20},
      {KVType::q8_0, 64, 8, 4, 16, 50.0f, true, 6, 60}, {KVType::f32, 256, 2, 1, 0, 0, true, 1, 70},
  };
  for (const Case& c : cases) {
    const int64_t total = c.pos0 + c.n;
    HostKV host(c.type, c.kv_heads, c.d, 16, total);
    for (int64_t p = 0; p < total; ++p)
      for (int64_t g = 0; g < c.kv_heads; ++g) {
        const auto k = random_floats(size_t(c.d)), v = random_floats(size_t(c.d));
        kv_encode_row(c.type, k.data(), c.d, host.row(p, g, false));
        kv_encode_row(c.type, v.data(), c.d, host.row(p, g, true));
      }
    const auto q = random_floats(size_t(c.n * c.heads * c.d));
    const auto sinks = random_floats(size_t(c.heads));
    std::vector<uint8_t*> hblocks;
    for (auto& b : host.blocks) hblocks.push_back(b.data());
    const KVLayerView hv{hblocks.data(), host.k_offset, host.v_offset, host.block, host.head_stride, host.row_bytes,
                         c.type};
    std::vector<float> ref(q.size());
    const AttentionSeq seq{q.data(), ref.data(), c.n, c.pos0, hv};
    const float scale = 1.0f / std::sqrt(float(c.d));
    cpu->attention(&seq, 1, AttentionParams{c.heads, c.kv_heads, c.d, scale, c.softcap, c.window,
                                            c.sinks ? sinks.data() : nullptr});
    DevKV dev(host);
    const Dev<float> dq(q), dsinks(sinks);
    Dev<float> out(q.size());
    attention(dev.view, dq.p, out.p, c.n, c.pos0,
              DeviceAttention{c.heads, c.kv_heads, c.d, scale, c.softcap, c.window, c.sinks ? dsinks.p : nullptr},
              nullptr);
    EXPECT_LT(rel_err(out.get(), ref), 2e-6) << kv_type_name(c.type) << " d=" << c.d << " window=" << c.window
                                             << " softcap=" << c.softcap << " sinks=" << c.sinks << " n=" << c.n;
    // The batched entry: the same sequence, and its last token alone as a second sequence.
    const int64_t row = c.heads * c.d;
    Dev<float> out2(q.size()), last{size_t(row)};
    std::vector<DeviceSeq> seqs(2);
    seqs[0].kv = seqs[1].kv = dev.view;
    seqs[0].a = dq.p, seqs[0].out = out2.p, seqs[0].n = c.n, seqs[0].pos0 = c.pos0;
    seqs[1].a = dq.p + (c.n - 1) * row, seqs[1].out = last.p, seqs[1].n = 1, seqs[1].pos0 = c.pos0 + c.n - 1;
    const Dev<DeviceSeq> dseqs(seqs);
    attention_seqs(dseqs.p, 2, c.n,
                   DeviceAttention{c.heads, c.kv_heads, c.d, scale, c.softcap, c.window, c.sinks ? dsinks.p : nullptr},
                   nullptr);
    EXPECT_LT(rel_err(out2.get(), ref), 2e-6) << kv_type_name(c.type) << " batched n=" << c.n;
    EXPECT_LT(rel_err(last.get(), std::vector<float>(ref.end() - row, ref.end())), 2e-6)
        << kv_type_name(c.type) << " batched, last token alone";
    // With the output's int8 codes (decode: the output projection's input),
    // both sequences' outputs in one buffer: the codes are quantize_q8's of it.
    if (c.d % 32 != 0) continue;
    Dev<float> joint{size_t((c.n + 1) * row)};
    seqs[0].out = joint.p, seqs[0].code0 = 0;
    seqs[1].out = joint.p + c.n * row, seqs[1].code0 = c.n * row;
    const Dev<DeviceSeq> jseqs(seqs);
    Dev<int8_t> codes{size_t((c.n + 1) * row)};
    Dev<float2> ds{size_t((c.n + 1) * row / 32)};
    attention_seqs(jseqs.p, 2, c.n,
                   DeviceAttention{c.heads, c.kv_heads, c.d, scale, c.softcap, c.window, c.sinks ? dsinks.p : nullptr},
                   nullptr, codes.p, ds.p);
    const auto j = joint.get();
    EXPECT_LT(rel_err(std::vector<float>(j.begin(), j.begin() + c.n * row), ref), 2e-6)
        << kv_type_name(c.type) << " with codes";
    expect_codes_of(joint, (c.n + 1) * row, codes, ds, "attention");
  }
}

// Random rows at every position of a cache.
void fill_random(HostKV& h) {
  for (int64_t p = 0; p < h.capacity; ++p)
    for (int64_t g = 0; g < h.kv_heads; ++g) {
      const auto k = random_floats(size_t(h.d)), v = random_floats(size_t(h.d));
      kv_encode_row(h.type, k.data(), h.d, h.row(p, g, false));
      kv_encode_row(h.type, v.data(), h.d, h.row(p, g, true));
    }
}

KVLayerView host_view(HostKV& h, std::vector<uint8_t*>& ptrs) {
  ptrs.clear();
  for (auto& b : h.blocks) ptrs.push_back(b.data());
  return KVLayerView{ptrs.data(), h.k_offset, h.v_offset, h.block, h.head_stride, h.row_bytes, h.type};
}

// Decode of many sequences at once (more (token, head) blocks than the GPU
// holds at once): a block takes all the query heads of a KV head (8, 4 or 2
// of them; 1 when the group is odd), head_dim up to 128 and above, every KV
// row type, window, softcap and sinks, sequences of different lengths over
// one cache, with the output's int8 codes. Against the CPU backend; the
// per-token kernel's bound (F32 over the same stored rows).
TEST(CudaKV, ManySequencesTakeTheHeadsOfAKvHeadTogether) {
  REQUIRE_DEVICE();
  auto cpu = make_cpu_backend(1);
  struct Case { KVType type; int64_t d, heads, kv_heads, window; float softcap; bool sinks; };
  const Case cases[] = {
      {KVType::f16, 128, 32, 8, 0, 0, false},      {KVType::q8_0, 64, 16, 2, 40, 20.0f, true},
      {KVType::f32, 96, 12, 4, 0, 0, false},       {KVType::f16, 256, 8, 4, 0, 0, true},
      {KVType::q8_0, 128, 8, 1, 0, 30.0f, false},  {KVType::f16, 32, 6, 3, 9, 0, true},
  };
  for (const Case& c : cases) {
    // Enough single-token sequences that one block per (token, head) would not fit at once.
    const int64_t count = 4 * multiprocessors() / c.heads + 3, longest = 90, row = c.heads * c.d;
    HostKV host(c.type, c.kv_heads, c.d, 16, longest);
    fill_random(host);
    DevKV dev(host);
    std::vector<uint8_t*> ptrs;
    const KVLayerView hv = host_view(host, ptrs);
    const auto q = random_floats(size_t(count * row));
    const auto sinks = random_floats(size_t(c.heads));
    std::vector<float> ref(q.size());
    std::vector<AttentionSeq> cpu_seqs;
    std::vector<DeviceSeq> seqs(static_cast<size_t>(count));
    const Dev<float> dq(q), dsinks(sinks);
    Dev<float> out(q.size());
    for (int64_t i = 0; i < count; ++i) {
      const int64_t pos = (i * 37) % longest;  // this sequence's new token's position: 0 .. longest - 1
      cpu_seqs.push_back(AttentionSeq{q.data() + i * row, ref.data() + i * row, 1, pos, hv});
      DeviceSeq& sq = seqs[size_t(i)];
      sq.kv = dev.view, sq.a = dq.p + i * row, sq.out = out.p + i * row, sq.n = 1, sq.pos0 = pos, sq.code0 = i * row;
    }
    const float scale = 1.0f / std::sqrt(float(c.d));
    cpu->attention(cpu_seqs.data(), count, AttentionParams{c.heads, c.kv_heads, c.d, scale, c.softcap, c.window,
                                                           c.sinks ? sinks.data() : nullptr});
    const Dev<DeviceSeq> dseqs(seqs);
    const bool with_codes = c.d % 32 == 0;
    Dev<int8_t> codes{size_t(count * row)};
    Dev<float2> ds{size_t(count * row / 32)};
    attention_seqs(dseqs.p, count, 1,
                   DeviceAttention{c.heads, c.kv_heads, c.d, scale, c.softcap, c.window, c.sinks ? dsinks.p : nullptr},
                   nullptr, with_codes ? codes.p : nullptr, with_codes ? ds.p : nullptr);
    const std::string what = std::string(kv_type_name(c.type)) + " d=" + std::to_string(c.d) +
                             " heads=" + std::to_string(c.heads) + "/" + std::to_string(c.kv_heads);
    EXPECT_LT(rel_err(out.get(), ref), 2e-6) << what;
    if (with_codes) expect_codes_of(out, count * row, codes, ds, what.c_str());
  }
}

// Prefill (n >= kFlashMinTokens) over F16 / Q8_0 rows: the tensor-core kernel,
// against the CPU backend (F32 over the stored rows). Token counts that are
// not multiples of the 64-row tiles or the key tiles, old positions in the
// cache (pos0 > 0), windows shorter than n (whole key tiles skipped by some
// warps), softcap, sinks, GQA 1:1 / 3:1 / 4:1 / 8:1, head_dim 32 / 64 / 80 /
// 96 / 128 / 256 (the odd ones padded inside the kernel), value rows at
// 2-byte offsets (the narrow loads). Batched: the case's sequence, an empty
// one and a short one over another cache in one launch.
// Bounds: with F16 rows, Q and P go through the tensor cores as two F16 parts
// each (2^-22 relative), so only F32 summation order separates the results
// from the CPU's (the per-token kernel meets 2e-6): 2e-5, which one F16 part
// for Q or P (2^-11 per element, ~2e-4 in the result) would fail. Q8_0 rows
// are decoded to F16 (scale x code rounded: up to 2^-11 relative per K and V
// element, ~3e-4 in scores and outputs together): 2e-3.
TEST(CudaKV, PrefillAttentionMatchesCpuBackend) {
  REQUIRE_DEVICE();
  auto cpu = make_cpu_backend(1);
  struct Case {
    KVType type; int64_t d, heads, kv_heads, window; float softcap; bool sinks; int64_t n, pos0, block, v_pad;
  };
  const Case cases[] = {
      {KVType::f16, 128, 8, 2, 0, 0, false, 100, 37, 16, 8},     {KVType::f16, 64, 4, 4, 24, 30.0f, false, 37, 20, 16, 2},
      {KVType::q8_0, 128, 8, 2, 50, 0, true, 130, 5, 32, 8},     {KVType::q8_0, 80, 6, 2, 0, 50.0f, true, 45, 70, 16, 8},
      {KVType::f16, 256, 4, 1, 0, 0, true, 70, 10, 16, 8},       {KVType::f16, 32, 2, 1, 0, 0, false, 16, 0, 16, 8},
      {KVType::q8_0, 64, 16, 2, 40, 20.0f, false, 67, 100, 16, 8}, {KVType::f16, 96, 4, 2, 8, 0, false, 130, 3, 16, 8},
      {KVType::f32, 64, 4, 2, 0, 0, false, 40, 9, 16, 8},  // F32 rows: the per-token kernel still
  };
  for (const Case& c : cases) {
    const bool flash = c.type != KVType::f32;
    const float scale = 1.0f / std::sqrt(float(c.d));
    const auto sinks = random_floats(size_t(c.heads));
    DeviceAttention p{c.heads, c.kv_heads, c.d, scale, c.softcap, c.window, nullptr, int32_t(c.type)};
    ASSERT_EQ(flash_attention_fits(p, int(c.type), c.n), flash) << kv_type_name(c.type) << " d=" << c.d;
    // Sequence A: the case; B: 5 tokens at position 11 of another cache (blocks of 8).
    const int64_t n2 = 5, pos2 = 11;
    HostKV a(c.type, c.kv_heads, c.d, c.block, c.pos0 + c.n, c.v_pad), b(c.type, c.kv_heads, c.d, 8, pos2 + n2);
    fill_random(a);
    fill_random(b);
    const int64_t row = c.heads * c.d;
    const auto qa = random_floats(size_t(c.n * row)), qb = random_floats(size_t(n2 * row));
    std::vector<float> ref_a(qa.size()), ref_b(qb.size());
    std::vector<uint8_t*> pa, pb;
    const AttentionSeq host_seqs[2] = {{qa.data(), ref_a.data(), c.n, c.pos0, host_view(a, pa)},
                                       {qb.data(), ref_b.data(), n2, pos2, host_view(b, pb)}};
    cpu->attention(host_seqs, 2, AttentionParams{c.heads, c.kv_heads, c.d, scale, c.softcap, c.window,
                                                 c.sinks ? sinks.data() : nullptr});
    DevKV dev_a(a), dev_b(b);
    const Dev<float> dqa(qa), dqb(qb), dsinks(sinks);
    p.sinks = c.sinks ? dsinks.p : nullptr;
    const double bound = c.type == KVType::f16 ? 2e-5 : c.type == KVType::q8_0 ? 2e-3 : 2e-6;
    const std::string what = std::string(kv_type_name(c.type)) + " d=" + std::to_string(c.d) + " heads=" +
                             std::to_string(c.heads) + "/" + std::to_string(c.kv_heads) + " n=" + std::to_string(c.n) +
                             " window=" + std::to_string(c.window) + " softcap=" + std::to_string(c.softcap) +
                             " sinks=" + std::to_string(c.sinks);
    Dev<float> out(qa.size());
    attention(dev_a.view, dqa.p, out.p, c.n, c.pos0, p, nullptr);
    const double e1 = rel_err(out.get(), ref_a);
    EXPECT_LT(e1, bound) << what;
    // Batched: A, an empty sequence, B; max_n = A's n picks the same kernel for all.
    Dev<float> out_a(qa.size()), out_b(qb.size());
    std::vector<DeviceSeq> seqs(3);
    seqs[0].kv = dev_a.view, seqs[0].a = dqa.p, seqs[0].out = out_a.p, seqs[0].n = c.n, seqs[0].pos0 = c.pos0;
    seqs[1].kv = dev_a.view, seqs[1].n = 0, seqs[1].pos0 = c.pos0 + c.n;
    seqs[2].kv = dev_b.view, seqs[2].a = dqb.p, seqs[2].out = out_b.p, seqs[2].n = n2, seqs[2].pos0 = pos2;
    const Dev<DeviceSeq> dseqs(seqs);
    attention_seqs(dseqs.p, 3, c.n, p, nullptr);
    const double e2 = rel_err(out_a.get(), ref_a), e3 = rel_err(out_b.get(), ref_b);
    EXPECT_LT(e2, bound) << what << " (batched)";
    EXPECT_LT(e3, bound) << what << " (batched, second sequence)";
    std::printf("[ prefill attention ] %s: rel err %.3g, batched %.3g / %.3g (bound %.0e)\n", what.c_str(), e1, e2, e3,
                bound);
  }
}

}  // namespace
}  // namespace allm::cuda
