// Matrix-vector products (the decode hot path) for each weight format, as a
// fraction of the memory read bandwidth measured in the same run on the same
// threads. Weights are larger than the caches, as in a real model.
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "allm/bandwidth.hpp"
#include "allm/checkpoint_loader.hpp"
#include "allm/compute.hpp"
#include "allm/threadpool.hpp"
#include "best_time.hpp"

using namespace allm;

int main(int argc, char** argv) {
  allm::register_mlx_weight_format();  // as the safetensors loader plugin does before its first checkpoint
  const int threads = argc > 1 ? std::atoi(argv[1]) : 0;
  auto backend = make_cpu_backend(threads);
  ThreadPool pool(backend->threads());
  const BandwidthResult bw = measure_memory_bandwidth(pool, 256ull << 20, 3);
  std::printf("threads %d, kernels %s: memory read %.2f GB/s, copy %.2f GB/s\n", backend->threads(),
              cpu_kernel_name(), bw.read_gb_s, bw.copy_gb_s);

  const int64_t rows = 16384, cols = 4096;  // 256 MiB of F32 weights
  std::vector<uint32_t> raw(static_cast<size_t>(rows * cols), 0x3c003c00u);
  std::vector<uint16_t> scales(static_cast<size_t>(rows * cols / 64), 0x3c00), biases(scales.size(), 0);
  std::vector<float> x(static_cast<size_t>(cols), 0.5f), y(static_cast<size_t>(rows));
  struct Case {
    const char* name;
    DType dtype;
    int bits;
    uint64_t bytes;
  };
  for (Case c : {Case{"f32", DType::F32, 0, uint64_t(rows * cols * 4)}, Case{"bf16", DType::BF16, 0, uint64_t(rows * cols * 2)},
                 Case{"f16", DType::F16, 0, uint64_t(rows * cols * 2)},
                 Case{"mlx8", DType::MLX_AFFINE, 8, uint64_t(rows * cols + rows * cols / 64 * 4)},
                 Case{"mlx4", DType::MLX_AFFINE, 4, uint64_t(rows * cols / 2 + rows * cols / 64 * 4)}}) {
    Tensor w;
    w.name = c.name;
    w.dtype = c.dtype;
    w.shape = {rows, cols};
    w.data = raw.data();
    w.nbytes = c.bytes;
    if (c.dtype == DType::MLX_AFFINE) {
      w.scales = scales.data();
      w.biases = biases.data();
      w.bits = c.bits;
      w.group_size = 64;
    }
    const double s = bench::best_seconds_per_call([&] { backend->linear(w, x.data(), 1, y.data()); });
    const double gbs = static_cast<double>(c.bytes) / s / 1e9;
    std::printf("%-5s matvec %5lldx%lld: %7.2f ms  %6.2f GB/s  = %3.0f%% of read bandwidth\n", c.name,
                static_cast<long long>(rows), static_cast<long long>(cols), s * 1e3, gbs, 100 * gbs / bw.read_gb_s);
  }
  return 0;
}
