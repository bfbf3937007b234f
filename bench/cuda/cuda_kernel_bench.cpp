// Times the CUDA kernels on Llama-3-8B-shaped work (random data, never
// zeros): the decode GEMV of a 57344 x 4096 matrix per weight format (larger
// than the L2, so it streams from memory) as GB/s of weight bytes; the
// prefill GEMM of 512 tokens through a 14336 x 4096 matrix as TFLOP/s; one
// decode token's attention over 4096 cached positions (32 heads, 8 KV heads,
// head_dim 128). For Q4_K, Q8_0 and Q6_K also the int8 tensor-core GEMM
// (gemm_int8, "MMQ"): batched decode of 8, 16 and 32 tokens through the large
// matrix (GB/s of weight bytes) and through a 1024 x 4096 one (a K/V
// projection: the split over the row's blocks), and 512 tokens through the
// 14336 x 4096 matrix (TFLOP/s, as the GEMM column). Medians of CUDA-event
// timings after a warm-up. And 512 prefill tokens' attention (tensor cores
// against the per-token kernel). And what a decode step of 1, 8 or 32
// sequences spends on their logits (Llama 3's vocabulary, 128256 floats a
// row) after the GPU's work: the download into ordinary (pageable) memory,
// as the engine's forward does, and into pinned memory, as llama.cpp's
// output buffer is; and the host's argmax over the rows (greedy sampling).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "allm/gguf.hpp"
#include "allm/kv_format.hpp"
#include "kernels.hpp"
#include "split_blocks.hpp"

using namespace allm;
using namespace allm::cuda;

namespace {

std::mt19937 rng{7};

void* device_copy(const void* host, size_t bytes) {
  void* p = nullptr;
  check(cudaMalloc(&p, bytes), "cudaMalloc");
  check(cudaMemcpy(p, host, bytes, cudaMemcpyHostToDevice), "upload");
  return p;
}

template <class F>
double median_ms(F&& f, int reps) {
  cudaEvent_t a, b;
  cudaEventCreate(&a);
  cudaEventCreate(&b);
  for (int i = 0; i < 3; ++i) f();
  std::vector<float> ms;
  for (int i = 0; i < reps; ++i) {
    cudaEventRecord(a);
    f();
    cudaEventRecord(b);
    cudaEventSynchronize(b);
    float t = 0;
    cudaEventElapsedTime(&t, a, b);
    ms.push_back(t);
  }
  check(cudaGetLastError(), "bench");
  std::sort(ms.begin(), ms.end());
  return ms[ms.size() / 2];
}

struct Format { WFormat f; const char* name; DType dtype; };

// Random weight bytes of a format, each block's scale fields set to sane halves.
std::vector<uint8_t> weight_bytes(const Format& fm, int64_t rows, int64_t cols, int64_t& row_bytes) {
  std::uniform_int_distribution<int> byte(0, 255);
  if (fm.f == WFormat::mlx) {
    row_bytes = cols / 2;
  } else {
    row_bytes = int64_t(cols / dtype_block_elems(fm.dtype) * dtype_block_bytes(fm.dtype));
    if (fm.f == WFormat::f16 || fm.f == WFormat::bf16) row_bytes = cols * 2;
  }
  std::vector<uint8_t> b(size_t(rows * row_bytes));
  for (auto& x : b) x = uint8_t(byte(rng));
  if (fm.f == WFormat::f16 || fm.f == WFormat::bf16 || fm.f == WFormat::mlx) {
    if (fm.f != WFormat::mlx) {  // finite random values
      std::normal_distribution<float> d(0, 0.05f);
      for (size_t i = 0; i < b.size() / 2; ++i) {
        const float v = d(rng);
        gguf::quantize_row(fm.dtype, &v, &b[2 * i], 1);
      }
    }
    return b;
  }
  const size_t bb = dtype_block_bytes(fm.dtype);
  std::vector<int> halves;
  switch (fm.f) {
    case WFormat::q4_0: case WFormat::q5_0: case WFormat::q8_0: halves = {0}; break;
    case WFormat::q4_k: case WFormat::q5_k: halves = {0, 2}; break;
    case WFormat::q6_k: halves = {208}; break;
    default: break;
  }
  const float s = 0.01f;
  uint16_t h;
  gguf::quantize_row(DType::F16, &s, &h, 1);
  for (size_t o = 0; o + bb <= b.size(); o += bb)
    for (int off : halves) std::memcpy(&b[o + off], &h, 2);
  return b;
}

}  // namespace

int main(int argc, char** argv) {
  // An optional format name times that format's GEMV and GEMM alone (for a profiler run).
  const std::string only = argc > 1 ? argv[1] : "";
  int count = 0;
  if (cudaGetDeviceCount(&count) != cudaSuccess || count == 0) {
    std::printf("no CUDA device: nothing to time\n");
    return 0;
  }
  cudaDeviceProp prop{};
  cudaGetDeviceProperties(&prop, 0);
  std::printf("device: %s, %d SMs, %.1f GiB\n", prop.name, prop.multiProcessorCount, prop.totalGlobalMem / 1073741824.0);

  // Copy bandwidth (read + write), the ceiling for the GEMV.
  if (only.empty()) {
    const size_t bytes = size_t(2) << 30;
    void *a, *b;
    check(cudaMalloc(&a, bytes), "cudaMalloc");
    check(cudaMalloc(&b, bytes), "cudaMalloc");
    cudaMemset(a, 1, bytes);
    const double ms = median_ms([&] { cudaMemcpyAsync(b, a, bytes, cudaMemcpyDeviceToDevice); }, 10);
    std::printf("device copy: %.0f GB/s (read + write)\n", 2.0 * bytes / ms / 1e6);
    unsigned* sink = nullptr;
    check(cudaMalloc(reinterpret_cast<void**>(&sink), sizeof(unsigned)), "cudaMalloc");
    const double read_ms = median_ms([&] { read_probe(a, int64_t(bytes), sink, nullptr); }, 10);
    std::printf("device read: %.0f GB/s (2 GiB streamed once)\n", bytes / read_ms / 1e6);
    cudaFree(sink);
    cudaFree(a);
    cudaFree(b);
  }

  const Format formats[] = {{WFormat::f16, "f16", DType::F16},   {WFormat::bf16, "bf16", DType::BF16},
                            {WFormat::q8_0, "q8_0", DType::Q8_0}, {WFormat::q4_0, "q4_0", DType::Q4_0},
                            {WFormat::q4_k, "q4_k", DType::Q4_K}, {WFormat::q5_k, "q5_k", DType::Q5_K},
                            {WFormat::q6_k, "q6_k", DType::Q6_K}, {WFormat::mlx, "mlx4", DType::U32}};
  const int64_t cols = 4096, rows = 57344, gemm_rows = 14336, tokens = 512;
  std::vector<float> hx(size_t(tokens * cols));
  std::normal_distribution<float> nd(0, 1);
  for (auto& v : hx) v = nd(rng);
  auto* x = static_cast<float*>(device_copy(hx.data(), hx.size() * 4));
  float* y = nullptr;
  check(cudaMalloc(reinterpret_cast<void**>(&y), size_t(tokens) * rows * 4), "cudaMalloc");
  // The int8 kernels' activation codes of every token (quantised once, outside the timing).
  int8_t* qx = nullptr;
  float2* qds = nullptr;
  check(cudaMalloc(reinterpret_cast<void**>(&qx), size_t(tokens * cols)), "cudaMalloc");
  check(cudaMalloc(reinterpret_cast<void**>(&qds), size_t(tokens * cols / 32) * sizeof(float2)), "cudaMalloc");
  quantize_q8(x, tokens, cols, qx, qds, nullptr);
  float* partial = nullptr;  // gemm_int8's split scratch
  check(cudaMalloc(reinterpret_cast<void**>(&partial), size_t(kGemmInt8Partials) * sizeof(float)), "cudaMalloc");
  std::vector<std::string> mmq_lines;
  std::printf("%-6s %14s %10s %12s %10s %16s %12s %10s\n", "format", "gemv n=1 ms", "GB/s", "1 row/warp", "GB/s",
              "gemm 512 TFLOP/s", "new gemv ms", "GB/s");
  for (const Format& fm : formats) {
    if (!only.empty() && only != fm.name) continue;
    int64_t row_bytes = 0;
    const auto bytes = weight_bytes(fm, rows, cols, row_bytes);
    DeviceWeight w;
    w.format = fm.f;
    w.rows = rows;
    w.cols = cols;
    w.row_bytes = row_bytes;
    w.data = static_cast<const uint8_t*>(device_copy(bytes.data(), bytes.size()));
    std::vector<float> sb(size_t(rows * cols / 64));
    for (auto& v : sb) v = nd(rng) * 0.01f;
    if (fm.f == WFormat::mlx) {
      w.bits = 4;
      w.group_size = 64;
      w.scales = static_cast<const float*>(device_copy(sb.data(), sb.size() * 4));
      w.biases = static_cast<const float*>(device_copy(sb.data(), sb.size() * 4));
    }
    set_gemv_rows_per_warp(2);
    const double gemv_ms = median_ms([&] { gemv(w, x, 1, y, rows, nullptr, nullptr); }, 20);
    set_gemv_rows_per_warp(1);
    const double gemv1_ms = median_ms([&] { gemv(w, x, 1, y, rows, nullptr, nullptr); }, 20);
    set_gemv_rows_per_warp(2);
    DeviceWeight g = w;
    g.rows = gemm_rows;
    const double gemm_ms = median_ms([&] { gemm(g, x, tokens, y, gemm_rows, nullptr, nullptr); }, 5);
    // The backend's decode GEMV where it is not the first one: int8 (Q4_K, Q8_0 / Q6_K split) or wide (F16 / BF16).
    double int8_ms = 0;
    if (fm.f == WFormat::q4_k || fm.f == WFormat::q8_0 || fm.f == WFormat::q6_k) {
      DeviceWeight s = w;
      std::vector<uint8_t> split;
      if (fm.f == WFormat::q8_0) split = split_q8_0(bytes.data(), rows, cols), s.format = WFormat::q8_0_split;
      if (fm.f == WFormat::q6_k) split = split_q6_k(bytes.data(), rows, cols), s.format = WFormat::q6_k_split;
      if (!split.empty()) s.data = static_cast<const uint8_t*>(device_copy(split.data(), split.size()));
      int8_ms = median_ms([&] { gemv_int8(s, qx, qds, 1, y, rows, nullptr, nullptr); }, 20);
      auto mmq_ms = [&](int64_t m, int64_t n) {
        DeviceWeight t = s;
        t.rows = m;
        return median_ms([&] { gemm_int8(t, qx, qds, n, y, m, nullptr, partial, kGemmInt8Partials, nullptr); }, 10);
      };
      const double bytes_of_row = double(bytes.size()) / double(rows);
      const double d8 = mmq_ms(rows, 8), d16 = mmq_ms(rows, 16), d32 = mmq_ms(rows, 32), kv32 = mmq_ms(1024, 32);
      const double pp = mmq_ms(gemm_rows, tokens);
      char line[256];
      std::snprintf(line, sizeof line, "%-6s %9.3f %7.0f %9.3f %7.0f %9.3f %7.0f %14.3f %7.0f %16.1f", fm.name, d8,
                    bytes_of_row * rows / d8 / 1e6, d16, bytes_of_row * rows / d16 / 1e6, d32,
                    bytes_of_row * rows / d32 / 1e6, kv32, bytes_of_row * 1024 / kv32 / 1e6,
                    2.0 * tokens * gemm_rows * cols / pp / 1e9);
      mmq_lines.push_back(line);
      if (!split.empty()) cudaFree(const_cast<uint8_t*>(s.data));
    } else if (gemv_wide_supports(w)) {  // F16 / BF16: the 16-byte-load GEMV
      int8_ms = median_ms([&] { gemv_wide(w, x, 1, y, rows, nullptr, nullptr); }, 20);
    }
    std::printf("%-6s %14.3f %10.0f %12.3f %10.0f %16.1f", fm.name, gemv_ms, double(bytes.size()) / gemv_ms / 1e6,
                gemv1_ms, double(bytes.size()) / gemv1_ms / 1e6, 2.0 * tokens * gemm_rows * cols / gemm_ms / 1e9);
    if (int8_ms > 0) std::printf(" %12.3f %10.0f", int8_ms, double(bytes.size()) / int8_ms / 1e6);
    std::printf("\n");
    cudaFree(const_cast<uint8_t*>(w.data));
    if (w.scales) cudaFree(const_cast<float*>(w.scales)), cudaFree(const_cast<float*>(w.biases));
  }

  if (!mmq_lines.empty()) {
    std::printf("gemm_int8 (MMQ):\n%-6s %9s %7s %9s %7s %9s %7s %14s %7s %16s\n", "format", "n=8 ms", "GB/s", "n=16 ms",
                "GB/s", "n=32 ms", "GB/s", "1024 rows n=32", "GB/s", "512 tok TFLOP/s");
    for (const auto& l : mmq_lines) std::printf("%s\n", l.c_str());
  }
  cudaFree(partial);

  // Decode attention: one token over 4096 positions, F16 and Q8_0 KV, blocks of 256 positions.
  for (KVType type : {KVType::f16, KVType::q8_0}) {
    if (!only.empty()) break;
    const int64_t heads = 32, kvh = 8, d = 128, ctx = 4096, block = 256;
    const int64_t row = kv_row_bytes(type, d), head_stride = block * row, block_bytes = 2 * kvh * head_stride;
    std::vector<uint8_t> hb(static_cast<size_t>(block_bytes));
    std::vector<float> v(static_cast<size_t>(d));
    for (int64_t r = 0; r < 2 * kvh * block; ++r) {
      for (auto& e : v) e = nd(rng);
      kv_encode_row(type, v.data(), d, hb.data() + r * row);
    }
    std::vector<const uint8_t*> ptrs;
    for (int64_t b = 0; b < ctx / block; ++b) ptrs.push_back(static_cast<const uint8_t*>(device_copy(hb.data(), hb.size())));
    DeviceKV kv{static_cast<const uint8_t* const*>(device_copy(ptrs.data(), ptrs.size() * sizeof(void*))), 0,
                kvh * head_stride, block, head_stride, row, int32_t(type)};
    DeviceAttention p{heads, kvh, d, 0.088f, 0, 0, nullptr};
    const double ms = median_ms([&] { attention(kv, x, y, 1, ctx - 1, p, nullptr); }, 20);
    std::printf("attention decode, %s KV, 4096 positions: %.3f ms (%.0f GB/s of KV)\n", kv_type_name(type), ms,
                double(ctx * 2 * kvh * row) / ms / 1e6);
    // Prefill: 512 tokens at the start of the cache (pp512) and at its end
    // (3584 positions before them), on the tensor cores and, through the
    // batched entry with the KV type withheld, the per-token kernel.
    for (int64_t pos0 : {int64_t(0), ctx - 512}) {
      const int64_t pn = 512;
      DeviceSeq seq{};
      seq.kv = kv, seq.a = x, seq.out = y, seq.n = pn, seq.pos0 = pos0;
      auto* dseq = static_cast<const DeviceSeq*>(device_copy(&seq, sizeof seq));
      DeviceAttention per_token = p;
      per_token.kv_type = -1;
      const double flash_ms = median_ms([&] { attention(kv, x, y, pn, pos0, p, nullptr); }, 10);
      const double old_ms = median_ms([&] { attention_seqs(dseq, 1, pn, per_token, nullptr); }, 10);
      const double pairs = double(pn) * double(pos0) + double(pn) * double(pn + 1) / 2;  // visible (token, position)
      const double flop = 4.0 * pairs * double(heads * d);
      std::printf("attention prefill, %s KV, 512 tokens after %lld: tensor cores %.3f ms (%.1f TFLOP/s), "
                  "per-token kernel %.3f ms\n",
                  kv_type_name(type), static_cast<long long>(pos0), flash_ms, flop / flash_ms / 1e9, old_ms);
      cudaFree(const_cast<DeviceSeq*>(dseq));
    }
  }

  {  // logits of a decode step: download and argmax, host-timed
    constexpr int64_t vocab = 128256;
    std::printf("logits of a step (%lld floats a row): download pageable / pinned, host argmax\n", (long long)vocab);
    for (int64_t rows : {int64_t(1), int64_t(8), int64_t(32)}) {
      const size_t bytes = size_t(rows * vocab) * sizeof(float);
      std::vector<float> host(size_t(rows * vocab));
      for (auto& v : host) v = float(rng() % 1000) * 1e-3f;
      float* dev = static_cast<float*>(device_copy(host.data(), bytes));
      float* pinned = nullptr;
      check(cudaMallocHost(reinterpret_cast<void**>(&pinned), bytes), "cudaMallocHost");
      auto host_ms = [](auto&& f) {
        std::vector<double> ms;
        for (int i = 0; i < 12; ++i) {
          const auto t0 = std::chrono::steady_clock::now();
          f();
          ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
        }
        std::sort(ms.begin(), ms.end());
        return ms[ms.size() / 2];
      };
      const double pageable_ms =
          host_ms([&] { check(cudaMemcpy(host.data(), dev, bytes, cudaMemcpyDeviceToHost), "download"); });
      const double pinned_ms =
          host_ms([&] { check(cudaMemcpy(pinned, dev, bytes, cudaMemcpyDeviceToHost), "download"); });
      int64_t sink = 0;
      const double argmax_ms = host_ms([&] {
        for (int64_t r = 0; r < rows; ++r) {
          const float* row = host.data() + r * vocab;
          sink += std::max_element(row, row + vocab) - row;
        }
      });
      std::printf("  %2lld rows (%5.1f MB): pageable %.3f ms (%.1f GB/s), pinned %.3f ms (%.1f GB/s), argmax %.3f ms%s\n",
                  (long long)rows, double(bytes) / 1e6, pageable_ms, double(bytes) / pageable_ms / 1e6, pinned_ms,
                  double(bytes) / pinned_ms / 1e6, argmax_ms, sink < 0 ? "!" : "");
      cudaFreeHost(pinned);
      cudaFree(dev);
    }
  }
  return 0;
}
