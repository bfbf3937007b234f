// GGML type ids, block geometry and value-type names.
#include "allm/gguf.hpp"
#include "gguf/types.hpp"

namespace allm::gguf {

const char* value_type_name(ValueType t) noexcept {
  switch (t) {
    case ValueType::U8: return "u8";
    case ValueType::I8: return "i8";
    case ValueType::U16: return "u16";
    case ValueType::I16: return "i16";
    case ValueType::U32: return "u32";
    case ValueType::I32: return "i32";
    case ValueType::F32: return "f32";
    case ValueType::BOOL: return "bool";
    case ValueType::STRING: return "string";
    case ValueType::ARRAY: return "array";
    case ValueType::U64: return "u64";
    case ValueType::I64: return "i64";
    case ValueType::F64: return "f64";
  }
  return "unknown";
}

std::optional<DType> dtype_from_ggml(uint32_t ggml_type) noexcept {
  switch (static_cast<GgmlType>(ggml_type)) {
    case GgmlType::F32: return DType::F32;
    case GgmlType::F16: return DType::F16;
    case GgmlType::BF16: return DType::BF16;
    case GgmlType::Q4_0: return DType::Q4_0;
    case GgmlType::Q4_1: return DType::Q4_1;
    case GgmlType::Q5_0: return DType::Q5_0;
    case GgmlType::Q5_1: return DType::Q5_1;
    case GgmlType::Q8_0: return DType::Q8_0;
    case GgmlType::Q8_1: return DType::Q8_1;
    case GgmlType::Q2_K: return DType::Q2_K;
    case GgmlType::Q3_K: return DType::Q3_K;
    case GgmlType::Q4_K: return DType::Q4_K;
    case GgmlType::Q5_K: return DType::Q5_K;
    case GgmlType::Q6_K: return DType::Q6_K;
    case GgmlType::Q8_K: return DType::Q8_K;
    case GgmlType::MXFP4: return DType::MXFP4;
  }
  return std::nullopt;
}

std::optional<GgmlType> ggml_from_dtype(DType t) noexcept {
  switch (t) {
    case DType::F32: return GgmlType::F32;
    case DType::F16: return GgmlType::F16;
    case DType::BF16: return GgmlType::BF16;
    case DType::Q4_0: return GgmlType::Q4_0;
    case DType::Q4_1: return GgmlType::Q4_1;
    case DType::Q5_0: return GgmlType::Q5_0;
    case DType::Q5_1: return GgmlType::Q5_1;
    case DType::Q8_0: return GgmlType::Q8_0;
    case DType::Q8_1: return GgmlType::Q8_1;
    case DType::Q2_K: return GgmlType::Q2_K;
    case DType::Q3_K: return GgmlType::Q3_K;
    case DType::Q4_K: return GgmlType::Q4_K;
    case DType::Q5_K: return GgmlType::Q5_K;
    case DType::Q6_K: return GgmlType::Q6_K;
    case DType::Q8_K: return GgmlType::Q8_K;
    case DType::MXFP4: return GgmlType::MXFP4;
    default: return std::nullopt;
  }
}

size_t row_bytes(DType t, int64_t n) noexcept {
  auto g = detail::geometry(t);
  if (g.elems == 0 || n < 0) return 0;
  return size_t(n) / g.elems * g.bytes;
}

namespace detail {

BlockGeometry geometry(DType t) noexcept {
  // The layouts themselves live once, in tensor.cpp; GGUF knows only these types.
  switch (t) {
    case DType::F32: case DType::F16: case DType::BF16:
    case DType::Q4_0: case DType::Q4_1: case DType::Q5_0: case DType::Q5_1: case DType::Q8_0: case DType::Q8_1:
    case DType::Q2_K: case DType::Q3_K: case DType::Q4_K: case DType::Q5_K: case DType::Q6_K: case DType::Q8_K:
    case DType::MXFP4:
      return {dtype_block_elems(t), dtype_block_bytes(t)};
    default: return {};
  }
}

const char* format_name(DType t) noexcept {
  // The names themselves live once, in tensor.cpp.
  return geometry(t).elems != 0 ? dtype_name(t) : "non-GGUF";
}

}  // namespace detail
}  // namespace allm::gguf
