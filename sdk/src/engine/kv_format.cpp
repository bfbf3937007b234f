#include "allm/kv_format.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstring>

#include "allm/error.hpp"
#include "kernels/kernel_table.hpp"

namespace allm {

namespace {

// Round-to-nearest-even F32 -> IEEE half (overflow saturates to the largest finite half).
uint16_t to_f16(float f) {
  uint32_t x;
  std::memcpy(&x, &f, 4);
  const uint32_t sign = (x >> 16) & 0x8000u;
  const uint32_t absx = x & 0x7fffffffu;
  if (absx > 0x7f800000u) return static_cast<uint16_t>(sign | 0x7e00u);  // NaN
  if (absx >= 0x477ff000u) return static_cast<uint16_t>(sign | 0x7bffu);  // >= 65520: saturate
  if (absx < 0x38800000u) {  // below the smallest normal half: subnormal or zero
    float a;
    std::memcpy(&a, &absx, 4);
    return static_cast<uint16_t>(sign | static_cast<uint32_t>(std::nearbyint(a * 16777216.0f)));  // a / 2^-24
  }
  const uint32_t rounded = absx + 0xfffu + ((absx >> 13) & 1u);
  return static_cast<uint16_t>(sign | ((rounded - 0x38000000u) >> 13));
}

}  // namespace

const char* kv_type_name(KVType t) noexcept {
  switch (t) {
    case KVType::f16: return "f16";
    case KVType::q8_0: return "q8_0";
    default: return "f32";
  }
}

KVType parse_kv_type(const std::string& text, const std::string& what) {
  std::string t = text;
  for (auto& c : t) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (t == "f32") return KVType::f32;
  if (t == "f16") return KVType::f16;
  if (t == "q8_0" || t == "q8") return KVType::q8_0;
  throw InvalidArgumentError(what + ": '" + text + "' is not a KV cache type (f32, f16, q8_0)");
}

int64_t kv_row_bytes(KVType t, int64_t d) noexcept {
  switch (t) {
    case KVType::f16: return 2 * d;
    case KVType::q8_0: return (d + kKVQ8Group - 1) / kKVQ8Group * 4 + d;
    default: return 4 * d;
  }
}

void kv_encode_row(KVType t, const float* src, int64_t d, uint8_t* dst) noexcept {
  if (t == KVType::f32) {
    std::memcpy(dst, src, static_cast<size_t>(d) * 4);
  } else if (t == KVType::f16) {
    for (int64_t i = 0; i < d; ++i) {
      const uint16_t h = to_f16(src[i]);
      std::memcpy(dst + 2 * i, &h, 2);
    }
  } else {  // scales first, then the codes
    const int64_t groups = (d + kKVQ8Group - 1) / kKVQ8Group;
    auto* codes = reinterpret_cast<int8_t*>(dst + 4 * groups);
    for (int64_t g = 0; g < groups; ++g) {
      const int64_t a = g * kKVQ8Group, b = std::min(d, a + kKVQ8Group);
      float amax = 0;
      for (int64_t i = a; i < b; ++i) amax = std::max(amax, std::fabs(src[i]));
      const float scale = amax / 127.0f, inv = scale > 0 ? 1.0f / scale : 0.0f;
      std::memcpy(dst + 4 * g, &scale, 4);
      for (int64_t i = a; i < b; ++i) codes[i] = static_cast<int8_t>(std::lrint(src[i] * inv));
    }
  }
}

void kv_decode_row(KVType t, const uint8_t* src, int64_t d, float* dst) noexcept {
  if (t == KVType::f32) {
    std::memcpy(dst, src, static_cast<size_t>(d) * 4);
  } else if (t == KVType::f16) {
    kernels::active().f16_to_f32(reinterpret_cast<const uint16_t*>(src), dst, d);
  } else {
    const int64_t groups = (d + kKVQ8Group - 1) / kKVQ8Group;
    const auto* codes = reinterpret_cast<const int8_t*>(src + 4 * groups);
    for (int64_t g = 0; g < groups; ++g) {
      float scale;
      std::memcpy(&scale, src + 4 * g, 4);
      for (int64_t i = g * kKVQ8Group; i < std::min(d, (g + 1) * kKVQ8Group); ++i)
        dst[i] = scale * static_cast<float>(codes[i]);
    }
  }
}

}  // namespace allm
