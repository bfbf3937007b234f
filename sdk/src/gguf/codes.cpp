// Stored block -> integer codes with per-16 scales and offsets.
#include "gguf/codes.hpp"

#include <cstring>

#include "gguf/blocks.hpp"

namespace allm::gguf::detail {

int decoded_block_elems(DType t) noexcept {
  switch (t) {
    case DType::Q4_0: case DType::Q4_1: case DType::Q5_0: case DType::Q5_1: case DType::Q8_0: case DType::MXFP4:
      return QK;
    case DType::Q2_K: case DType::Q3_K: case DType::Q4_K: case DType::Q5_K: case DType::Q6_K: return QK_K;
    default: return 0;
  }
}

namespace {

void fill(DecodedBlock& o, int groups, float s, float off) {
  for (int g = 0; g < groups; ++g) {
    o.scale[g] = s;
    o.offset[g] = off;
  }
}

template <class B>
void nibbles(const B& b, DecodedBlock& o, int bias, uint32_t qh, bool has_high) {
  for (int j = 0; j < QK / 2; ++j) {
    int lo = b.qs[j] & 0xF, hi = b.qs[j] >> 4;
    if (has_high) {
      lo |= int((qh >> j) & 1) << 4;
      hi |= int((qh >> (j + 16)) & 1) << 4;
    }
    o.code[j] = int8_t(lo - bias);
    o.code[j + 16] = int8_t(hi - bias);
  }
}

}  // namespace

bool decode_block(DType t, const void* row, int64_t index, DecodedBlock& o) noexcept {
  switch (t) {
    case DType::MXFP4: {
      auto& b = static_cast<const BlockMXFP4*>(row)[index];
      for (int j = 0; j < QK / 2; ++j) {
        o.code[j] = kMxfp4Values[b.qs[j] & 0xF];
        o.code[j + 16] = kMxfp4Values[b.qs[j] >> 4];
      }
      fill(o, 2, mxfp4_half_scale(b.e), 0);
      return true;
    }
    case DType::Q8_0: {
      auto& b = static_cast<const BlockQ8_0*>(row)[index];
      std::memcpy(o.code, b.qs, QK);
      fill(o, 2, half_to_float(b.d), 0);
      return true;
    }
    case DType::Q4_0: {
      auto& b = static_cast<const BlockQ4_0*>(row)[index];
      nibbles(b, o, 8, 0, false);
      fill(o, 2, half_to_float(b.d), 0);
      return true;
    }
    case DType::Q4_1: {
      auto& b = static_cast<const BlockQ4_1*>(row)[index];
      nibbles(b, o, 0, 0, false);
      fill(o, 2, half_to_float(b.d), -half_to_float(b.m));
      return true;
    }
    case DType::Q5_0: {
      auto& b = static_cast<const BlockQ5_0*>(row)[index];
      uint32_t qh;
      std::memcpy(&qh, b.qh, 4);
      nibbles(b, o, 16, qh, true);
      fill(o, 2, half_to_float(b.d), 0);
      return true;
    }
    case DType::Q5_1: {
      auto& b = static_cast<const BlockQ5_1*>(row)[index];
      uint32_t qh;
      std::memcpy(&qh, b.qh, 4);
      nibbles(b, o, 0, qh, true);
      fill(o, 2, half_to_float(b.d), -half_to_float(b.m));
      return true;
    }
    case DType::Q2_K: {
      auto& b = static_cast<const BlockQ2_K*>(row)[index];
      float d = half_to_float(b.d), dmin = half_to_float(b.dmin);
      const uint8_t* q = b.qs;
      int is = 0, k = 0;
      for (int n = 0; n < QK_K; n += 128, q += 32)
        for (int shift = 0; shift < 8; shift += 2)
          for (int half = 0; half < 2; ++half, ++is) {
            o.scale[is] = d * float(b.scales[is] & 0xF);
            o.offset[is] = dmin * float(b.scales[is] >> 4);
            for (int l = 0; l < 16; ++l) o.code[k++] = int8_t((q[l + 16 * half] >> shift) & 3);
          }
      return true;
    }
    case DType::Q3_K: {
      auto& b = static_cast<const BlockQ3_K*>(row)[index];
      float d = half_to_float(b.d);
      int8_t sc[16];
      q3k_scales(b.scales, sc);
      const uint8_t* q = b.qs;
      uint8_t m = 1;
      int is = 0, k = 0;
      for (int n = 0; n < QK_K; n += 128, q += 32)
        for (int shift = 0; shift < 8; shift += 2, m = uint8_t(m << 1))
          for (int half = 0; half < 2; ++half, ++is) {
            o.scale[is] = d * float(sc[is]);
            o.offset[is] = 0;
            for (int l = 0; l < 16; ++l) {
              int idx = l + 16 * half;
              o.code[k++] = int8_t(((q[idx] >> shift) & 3) - ((b.hmask[idx] & m) ? 0 : 4));
            }
          }
      return true;
    }
    case DType::Q4_K:
    case DType::Q5_K: {
      const uint8_t *scales, *qs, *qh = nullptr;
      uint16_t hd, hdmin;
      if (t == DType::Q4_K) {
        auto& b = static_cast<const BlockQ4_K*>(row)[index];
        scales = b.scales; qs = b.qs; hd = b.d; hdmin = b.dmin;
      } else {
        auto& b = static_cast<const BlockQ5_K*>(row)[index];
        scales = b.scales; qs = b.qs; qh = b.qh; hd = b.d; hdmin = b.dmin;
      }
      float d = half_to_float(hd), dmin = half_to_float(hdmin);
      uint8_t u1 = 1, u2 = 2;
      for (int j = 0, is = 0; j < QK_K; j += 64, is += 2, qs += 32) {
        uint8_t sc, m;
        k4_scale_min(is, scales, sc, m);
        o.scale[2 * is] = o.scale[2 * is + 1] = d * sc;
        o.offset[2 * is] = o.offset[2 * is + 1] = dmin * m;
        k4_scale_min(is + 1, scales, sc, m);
        o.scale[2 * is + 2] = o.scale[2 * is + 3] = d * sc;
        o.offset[2 * is + 2] = o.offset[2 * is + 3] = dmin * m;
        for (int l = 0; l < 32; ++l) {
          o.code[j + l] = int8_t((qs[l] & 0xF) + (qh && (qh[l] & u1) ? 16 : 0));
          o.code[j + l + 32] = int8_t((qs[l] >> 4) + (qh && (qh[l] & u2) ? 16 : 0));
        }
        u1 = uint8_t(u1 << 2);
        u2 = uint8_t(u2 << 2);
      }
      return true;
    }
    case DType::Q6_K: {
      auto& b = static_cast<const BlockQ6_K*>(row)[index];
      float d = half_to_float(b.d);
      const uint8_t* ql = b.ql;
      const uint8_t* qh = b.qh;
      for (int n = 0; n < QK_K; n += 128, ql += 64, qh += 32) {
        for (int l = 0; l < 32; ++l) {
          o.code[n + l] = int8_t(int((ql[l] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32);
          o.code[n + l + 32] = int8_t(int((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32);
          o.code[n + l + 64] = int8_t(int((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32);
          o.code[n + l + 96] = int8_t(int((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32);
        }
      }
      for (int g = 0; g < 16; ++g) {
        o.scale[g] = d * float(b.scales[g]);
        o.offset[g] = 0;
      }
      return true;
    }
    default: return false;
  }
}

}  // namespace allm::gguf::detail
