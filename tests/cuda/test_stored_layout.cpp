// The CUDA backend reads GGUF matrices in ggml's stored layout; on machines
// where the CPU interleaved them by 16 rows at load it restores that layout.
// Interleave random rows with the CPU's code, restore, compare the bytes.
// (No GPU needed: runs everywhere.)
#include <gtest/gtest.h>

#include <random>
#include <vector>

#include "allm/gguf.hpp"
#include "allm/error.hpp"
#include "gguf/interleave.hpp"
#include "stored_layout.hpp"

namespace allm::cuda {
namespace {

TEST(CudaStoredLayout, RestoresEveryInterleavedTypeByteForByte) {
  std::mt19937 rng(99);
  for (DType t : {DType::Q4_0, DType::Q8_0, DType::Q4_K, DType::Q6_K}) {
    const int64_t rows = 48, cols = 512;
    std::vector<uint8_t> stored(gguf::row_bytes(t, cols) * rows);
    for (auto& b : stored) b = uint8_t(rng());
    Tensor w;
    w.name = "w";
    w.dtype = t;
    w.shape = {rows, cols};
    w.data = stored.data();
    w.nbytes = stored.size();
    const DType x16 = interleaved_type(t);
    Tensor iw = w;
    iw.dtype = x16;
    std::vector<uint8_t> panels(size_t(rows * cols) / dtype_block_elems(x16) * dtype_block_bytes(x16));
    gguf::detail::interleave(w, panels.data());
    iw.data = panels.data();
    iw.nbytes = panels.size();
    ASSERT_TRUE(is_interleaved(x16));
    EXPECT_EQ(stored_type(x16), t);
    EXPECT_EQ(restore_stored_rows(iw), stored) << dtype_name(t);
  }
  Tensor plain;
  plain.name = "plain";
  plain.dtype = DType::Q4_1;
  plain.shape = {16, 32};
  EXPECT_THROW(restore_stored_rows(plain), UnsupportedError);
}

}  // namespace
}  // namespace allm::cuda
