// GGUF matmuls through the engine's backend, per block type, stored and as
// loaded (interleaved by 16 rows where the type has that layout): one token
// (decode) as a fraction of the memory read bandwidth measured in the same
// run on the same threads, and 64 tokens (prefill) in weights x tokens per
// second. Weights are larger than the caches, as in a real model.
//
//   gguf_kernel_bench [threads]
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <random>
#include <vector>

#include "allm/bandwidth.hpp"
#include "allm/compute.hpp"
#include "allm/gguf.hpp"
#include "allm/threadpool.hpp"
#include "allm/weight_format.hpp"
#include "best_time.hpp"

using namespace allm;

int main(int argc, char** argv) {
  gguf::register_weight_formats();  // as the GGUF loader plugin does before its first checkpoint
  const int threads = argc > 1 ? std::atoi(argv[1]) : 0;
  auto backend = make_cpu_backend(threads);
  ThreadPool pool(backend->threads());
  const BandwidthResult bw = measure_memory_bandwidth(pool, 256ull << 20, 3);
  std::printf("threads %d: memory read %.2f GB/s\n", backend->threads(), bw.read_gb_s);
  std::printf("%-10s %-9s %10s %10s %9s %14s\n", "type", "layout", "MiB", "1 tok GB/s", "of read", "64 tok Gw*t/s");

  const int64_t rows = 16384, cols = 4096, tokens = 64;
  std::mt19937 rng(7);
  std::normal_distribution<float> nd(0.f, 1.f);
  std::vector<float> x(size_t(tokens * cols)), y(size_t(tokens * rows));
  std::vector<float> row(static_cast<size_t>(cols));
  for (auto& v : x) v = nd(rng);
  for (DType t : {DType::Q8_0, DType::Q4_0, DType::Q4_K, DType::Q6_K, DType::Q5_K}) {
    const size_t stride = gguf::row_bytes(t, cols);
    std::vector<uint8_t> data(stride * size_t(rows));
    for (int64_t r = 0; r < 64; ++r) {  // 64 distinct rows, repeated: values do not change the speed
      for (auto& v : row) v = nd(rng);
      gguf::quantize_row(t, row.data(), data.data() + size_t(r) * stride, cols);
    }
    for (int64_t r = 64; r < rows; ++r) std::copy_n(data.data() + size_t(r % 64) * stride, stride, data.data() + size_t(r) * stride);
    Tensor stored;
    stored.name = dtype_name(t);
    stored.dtype = t;
    stored.shape = {rows, cols};
    stored.data = data.data();
    stored.nbytes = data.size();
    std::vector<std::pair<const char*, Tensor>> layouts = {{"stored", stored}};
    std::shared_ptr<void> storage;
    Tensor packed;
    const WeightFormat& fmt = weight_format_of(stored);
    if (fmt.repack && fmt.repack(stored, storage, packed)) layouts.push_back({"loaded", packed});
    for (auto& [layout, w] : layouts) {
      const double one = bench::best_seconds_per_call([&] { backend->linear(w, x.data(), 1, y.data()); }, 5, 3);
      const double many = bench::best_seconds_per_call([&] { backend->linear(w, x.data(), tokens, y.data()); }, 5, 3);
      const double gbs = double(w.nbytes) / one / 1e9;
      std::printf("%-10s %-9s %10.1f %10.2f %8.0f%% %14.2f\n", dtype_name(w.dtype), layout, w.nbytes / 1048576.0, gbs,
                  100 * gbs / bw.read_gb_s, double(rows * cols * tokens) / many / 1e9);
    }
  }
  return 0;
}
