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
#include "split_blocks.hpp"
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


// The int8 GEMV's split rows: every byte of every block lands where
// device_weight.hpp says (Q8_0: codes then scales; Q6_K: ql, qh, scales, d).
TEST(CudaStoredLayout, SplitLayoutsPlaceEveryBlockPart) {
  std::mt19937 rng(7);
  const int64_t rows = 3, cols = 512;
  for (DType t : {DType::Q8_0, DType::Q6_K}) {
    const bool q8 = t == DType::Q8_0;
    const int64_t nb = cols / (q8 ? 32 : 256), bb = q8 ? 34 : 210, row_bytes = nb * bb;
    std::vector<uint8_t> stored(size_t(rows * row_bytes));
    for (auto& b : stored) b = uint8_t(rng());
    const auto split = q8 ? split_q8_0(stored.data(), rows, cols) : split_q6_k(stored.data(), rows, cols);
    ASSERT_EQ(split.size(), stored.size());
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t b = 0; b < nb; ++b) {
        const uint8_t* blk = stored.data() + r * row_bytes + b * bb;
        const uint8_t* row = split.data() + r * row_bytes;
        auto same = [&](const uint8_t* got, const uint8_t* want, int64_t n, const char* part) {
          for (int64_t i = 0; i < n; ++i)
            ASSERT_EQ(got[i], want[i]) << dtype_name(t) << " row " << r << " block " << b << " " << part << " byte " << i;
        };
        if (q8) {
          same(row + 32 * b, blk + 2, 32, "codes");
          same(row + 32 * nb + 2 * b, blk, 2, "scale");
        } else {
          same(row + 128 * b, blk, 128, "ql");
          same(row + 128 * nb + 64 * b, blk + 128, 64, "qh");
          same(row + 192 * nb + 16 * b, blk + 192, 16, "scales");
          same(row + 208 * nb + 2 * b, blk + 208, 2, "d");
        }
      }
  }
}

}  // namespace
}  // namespace allm::cuda
