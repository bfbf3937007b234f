#pragma once
// Decoding of one stored block into signed integer codes plus a scale and an
// offset per group of 16 elements: w[i] = scale[i/16] * code[i] - offset[i/16].
// The integer dot-product paths are written against this form.
#include <cstdint>

#include "allm/tensor.hpp"

namespace allm::gguf::detail {

struct DecodedBlock {
  int8_t code[256];
  float scale[16];
  float offset[16];
};

// Elements per stored block for the integer paths (32 or 256).
int decoded_block_elems(DType t) noexcept;
// Decodes block `index` of `row`. Returns false for unsupported formats.
bool decode_block(DType t, const void* row, int64_t index, DecodedBlock& out) noexcept;

}  // namespace allm::gguf::detail
