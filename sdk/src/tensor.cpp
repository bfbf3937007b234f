// Names and storage sizes of the tensor element types (tensor.hpp).
#include "allm/tensor.hpp"

namespace allm {

const char* dtype_name(DType t) noexcept {
  switch (t) {
    case DType::F32: return "F32";
    case DType::F16: return "F16";
    case DType::BF16: return "BF16";
    case DType::I8: return "I8";
    case DType::U8: return "U8";
    case DType::I16: return "I16";
    case DType::I32: return "I32";
    case DType::U32: return "U32";
    case DType::I64: return "I64";
    case DType::F64: return "F64";
    case DType::BOOL: return "BOOL";
    case DType::MLX_AFFINE: return "MLX_AFFINE";
    case DType::Q4_0: return "Q4_0";
    case DType::Q4_1: return "Q4_1";
    case DType::Q5_0: return "Q5_0";
    case DType::Q5_1: return "Q5_1";
    case DType::Q8_0: return "Q8_0";
    case DType::Q8_1: return "Q8_1";
    case DType::Q2_K: return "Q2_K";
    case DType::Q3_K: return "Q3_K";
    case DType::Q4_K: return "Q4_K";
    case DType::Q5_K: return "Q5_K";
    case DType::Q6_K: return "Q6_K";
    case DType::Q8_K: return "Q8_K";
    case DType::Q4_0_X16: return "Q4_0x16";
    case DType::Q4_K_X16: return "Q4_Kx16";
    case DType::Q6_K_X16: return "Q6_Kx16";
    case DType::Q8_0_X16: return "Q8_0x16";
    case DType::MXFP4: return "MXFP4";
  }
  return "?";
}

size_t dtype_size(DType t) noexcept {
  switch (t) {
    case DType::F64:
    case DType::I64: return 8;
    case DType::F32:
    case DType::I32:
    case DType::U32: return 4;
    case DType::F16:
    case DType::BF16:
    case DType::I16: return 2;
    case DType::I8:
    case DType::U8:
    case DType::BOOL: return 1;
    default: return 0;
  }
}

namespace {
struct BlockLayout {
  size_t elems, bytes;
};

// ggml's block layouts: elements per block, bytes per block.
BlockLayout block_layout(DType t) noexcept {
  switch (t) {
    case DType::Q4_0: return {32, 18};
    case DType::Q4_1: return {32, 20};
    case DType::Q5_0: return {32, 22};
    case DType::Q5_1: return {32, 24};
    case DType::Q8_0: return {32, 34};
    case DType::Q8_1: return {32, 36};
    case DType::Q2_K: return {256, 84};
    case DType::Q3_K: return {256, 110};
    case DType::Q4_K: return {256, 144};
    case DType::Q5_K: return {256, 176};
    case DType::Q6_K: return {256, 210};
    case DType::Q8_K: return {256, 292};
    case DType::Q4_0_X16: return {32, 18};
    case DType::Q4_K_X16: return {256, 148};
    case DType::Q6_K_X16: return {256, 274};
    case DType::Q8_0_X16: return {32, 34};
    case DType::MXFP4: return {32, 17};
    default: return {1, dtype_size(t)};
  }
}
}  // namespace

size_t dtype_block_elems(DType t) noexcept { return block_layout(t).elems; }
size_t dtype_block_bytes(DType t) noexcept { return block_layout(t).bytes; }

DType interleaved_type(DType stored) noexcept {
  switch (stored) {
    case DType::Q4_0: return DType::Q4_0_X16;
    case DType::Q4_K: return DType::Q4_K_X16;
    case DType::Q6_K: return DType::Q6_K_X16;
    case DType::Q8_0: return DType::Q8_0_X16;
    default: return stored;
  }
}

bool is_interleaved(DType t) noexcept {
  return t == DType::Q4_0_X16 || t == DType::Q4_K_X16 || t == DType::Q6_K_X16 || t == DType::Q8_0_X16;
}

DType stored_type(DType t) noexcept {
  switch (t) {
    case DType::Q4_0_X16: return DType::Q4_0;
    case DType::Q4_K_X16: return DType::Q4_K;
    case DType::Q6_K_X16: return DType::Q6_K;
    case DType::Q8_0_X16: return DType::Q8_0;
    default: return t;
  }
}

}  // namespace allm
