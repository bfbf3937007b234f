#include "split_blocks.hpp"

#include <cstring>

namespace allm::cuda {
namespace {

// Moves part [from, from + len) of every block of every row to its own
// stretch of the row, the stretches in the order of `parts`.
struct Part {
  size_t from, len;
};

template <size_t N>
std::vector<uint8_t> split(const uint8_t* data, int64_t rows, int64_t blocks, size_t block_bytes,
                           const Part (&parts)[N]) {
  const size_t row_bytes = size_t(blocks) * block_bytes;
  std::vector<uint8_t> out(size_t(rows) * row_bytes);
  for (int64_t r = 0; r < rows; ++r) {
    const uint8_t* src = data + size_t(r) * row_bytes;
    uint8_t* dst = out.data() + size_t(r) * row_bytes;
    for (const Part& p : parts) {
      for (int64_t b = 0; b < blocks; ++b) std::memcpy(dst + size_t(b) * p.len, src + size_t(b) * block_bytes + p.from, p.len);
      dst += size_t(blocks) * p.len;
    }
  }
  return out;
}

}  // namespace

std::vector<uint8_t> split_q8_0(const uint8_t* data, int64_t rows, int64_t cols) {
  const Part parts[] = {{2, 32}, {0, 2}};  // qs, d
  return split(data, rows, cols / 32, 34, parts);
}

std::vector<uint8_t> split_q6_k(const uint8_t* data, int64_t rows, int64_t cols) {
  const Part parts[] = {{0, 128}, {128, 64}, {192, 16}, {208, 2}};  // ql, qh, scales, d
  return split(data, rows, cols / 256, 210, parts);
}

}  // namespace allm::cuda
