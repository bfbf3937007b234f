#pragma once
// How a KV cache stores one head's key or value row of head_dim numbers:
//   f32   4 bytes a value, exact;
//   f16   2 bytes a value (IEEE half; keys/values of these models fit its range);
//   q8_0  groups of 32 values as one F32 scale and 32 int8 codes (the last
//         group may be shorter): 1.125 bytes a value, ~0.28x of F32.
// The attention kernel reads every format directly.
#include <cstdint>
#include <string>

namespace allm {

enum class KVType { f32, f16, q8_0 };

const char* kv_type_name(KVType t) noexcept;
// "f32" | "f16" | "q8_0" (case-insensitive); InvalidArgumentError naming `what` otherwise.
KVType parse_kv_type(const std::string& text, const std::string& what);

constexpr int64_t kKVQ8Group = 32;

// Bytes of one stored row of `head_dim` values.
int64_t kv_row_bytes(KVType t, int64_t head_dim) noexcept;
// F32 -> stored row, stored row -> F32.
void kv_encode_row(KVType t, const float* src, int64_t head_dim, uint8_t* dst) noexcept;
void kv_decode_row(KVType t, const uint8_t* src, int64_t head_dim, float* dst) noexcept;

}  // namespace allm
