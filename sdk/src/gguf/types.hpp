#pragma once
// Block geometry of the formats GGUF stores (independent of tensor.cpp so the
// GGUF code has no link-time dependency on other SDK parts).
#include <cstddef>
#include <cstdint>

#include "allm/tensor.hpp"

namespace allm::gguf::detail {

struct BlockGeometry {
  size_t elems = 0;  // 0: not a format GGUF stores
  size_t bytes = 0;
};
BlockGeometry geometry(DType t) noexcept;
const char* format_name(DType t) noexcept;

}  // namespace allm::gguf::detail
