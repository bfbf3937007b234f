#pragma once
// GGUF matrices the CPU re-laid out at load (16 rows interleaved, DType
// *_X16; layout in sdk/src/gguf/interleave.hpp) back in ggml's stored block
// layout, byte for byte: the CUDA kernels read the stored layout.
#include <cstdint>
#include <vector>

#include "allm/tensor.hpp"

namespace allm::cuda {

// All rows of `w` (an interleaved matrix) in the stored layout: rows * bytes
// per stored row. Throws UnsupportedError for other types.
std::vector<uint8_t> restore_stored_rows(const Tensor& w);

}  // namespace allm::cuda
