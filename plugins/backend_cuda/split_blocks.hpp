#pragma once
// ggml's Q8_0 and Q6_K rows re-laid out for the int8 GEMV (the split formats
// of device_weight.hpp): each kind of part of every block of a row together,
// so that the kernels read codes with aligned 16-byte loads. Same bytes per
// row; host-side, at upload.
#include <cstdint>
#include <vector>

namespace allm::cuda {

// `rows` rows of `cols` elements in ggml's block layout -> the split layout.
// Q8_0 row: the codes of every block (32 bytes each), then the F16 scales.
std::vector<uint8_t> split_q8_0(const uint8_t* data, int64_t rows, int64_t cols);
// Q6_K row: ql of every block (128 bytes each), then qh (64), scales (16), d (2).
std::vector<uint8_t> split_q6_k(const uint8_t* data, int64_t rows, int64_t cols);

}  // namespace allm::cuda
