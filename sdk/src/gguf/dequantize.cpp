// Block formats -> float, one row at a time, and the float dot product built
// on it (dequantize a block into a small buffer, then multiply-add).
#include <string>

#include "allm/error.hpp"
#include "allm/gguf.hpp"
#include "gguf/blocks.hpp"
#include "gguf/types.hpp"

namespace allm::gguf {
using namespace detail;

namespace {

void deq_q4_0(const BlockQ4_0& b, float* y) {
  float d = half_to_float(b.d);
  for (int j = 0; j < QK / 2; ++j) {
    y[j] = d * float((b.qs[j] & 0xF) - 8);
    y[j + QK / 2] = d * float((b.qs[j] >> 4) - 8);
  }
}
void deq_q4_1(const BlockQ4_1& b, float* y) {
  float d = half_to_float(b.d), m = half_to_float(b.m);
  for (int j = 0; j < QK / 2; ++j) {
    y[j] = d * float(b.qs[j] & 0xF) + m;
    y[j + QK / 2] = d * float(b.qs[j] >> 4) + m;
  }
}
uint32_t load_u32(const uint8_t* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}
void deq_q5_0(const BlockQ5_0& b, float* y) {
  float d = half_to_float(b.d);
  uint32_t qh = load_u32(b.qh);
  for (int j = 0; j < QK / 2; ++j) {
    int lo = (b.qs[j] & 0xF) | (((qh >> j) & 1) << 4);
    int hi = (b.qs[j] >> 4) | (((qh >> (j + 16)) & 1) << 4);
    y[j] = d * float(lo - 16);
    y[j + QK / 2] = d * float(hi - 16);
  }
}
void deq_q5_1(const BlockQ5_1& b, float* y) {
  float d = half_to_float(b.d), m = half_to_float(b.m);
  uint32_t qh = load_u32(b.qh);
  for (int j = 0; j < QK / 2; ++j) {
    int lo = (b.qs[j] & 0xF) | (((qh >> j) & 1) << 4);
    int hi = (b.qs[j] >> 4) | (((qh >> (j + 16)) & 1) << 4);
    y[j] = d * float(lo) + m;
    y[j + QK / 2] = d * float(hi) + m;
  }
}
void deq_q8_0(const BlockQ8_0& b, float* y) {
  float d = half_to_float(b.d);
  for (int j = 0; j < QK; ++j) y[j] = d * float(b.qs[j]);
}
void deq_q2_k(const BlockQ2_K& b, float* y) {
  float d = half_to_float(b.d), dmin = half_to_float(b.dmin);
  const uint8_t* q = b.qs;
  int is = 0;
  for (int n = 0; n < QK_K; n += 128) {
    for (int shift = 0; shift < 8; shift += 2) {
      for (int half = 0; half < 2; ++half) {
        uint8_t sc = b.scales[is++];
        float dl = d * float(sc & 0xF), ml = dmin * float(sc >> 4);
        for (int l = 0; l < 16; ++l) *y++ = dl * float((q[l + 16 * half] >> shift) & 3) - ml;
      }
    }
    q += 32;
  }
}
void deq_q3_k(const BlockQ3_K& b, float* y) {
  float d = half_to_float(b.d);
  int8_t sc[16];
  q3k_scales(b.scales, sc);
  const uint8_t* q = b.qs;
  uint8_t m = 1;
  int is = 0;
  for (int n = 0; n < QK_K; n += 128) {
    for (int shift = 0; shift < 8; shift += 2) {
      for (int half = 0; half < 2; ++half) {
        float dl = d * float(sc[is++]);
        for (int l = 0; l < 16; ++l) {
          int idx = l + 16 * half;
          int v = ((q[idx] >> shift) & 3) - ((b.hmask[idx] & m) ? 0 : 4);
          *y++ = dl * float(v);
        }
      }
      m = uint8_t(m << 1);
    }
    q += 32;
  }
}
void deq_q4_k(const BlockQ4_K& b, float* y) {
  float d = half_to_float(b.d), dmin = half_to_float(b.dmin);
  const uint8_t* q = b.qs;
  for (int j = 0, is = 0; j < QK_K; j += 64, is += 2, q += 32) {
    uint8_t sc, m;
    k4_scale_min(is, b.scales, sc, m);
    float d1 = d * sc, m1 = dmin * m;
    k4_scale_min(is + 1, b.scales, sc, m);
    float d2 = d * sc, m2 = dmin * m;
    for (int l = 0; l < 32; ++l) *y++ = d1 * float(q[l] & 0xF) - m1;
    for (int l = 0; l < 32; ++l) *y++ = d2 * float(q[l] >> 4) - m2;
  }
}
void deq_q5_k(const BlockQ5_K& b, float* y) {
  float d = half_to_float(b.d), dmin = half_to_float(b.dmin);
  const uint8_t* ql = b.qs;
  uint8_t u1 = 1, u2 = 2;
  for (int j = 0, is = 0; j < QK_K; j += 64, is += 2, ql += 32) {
    uint8_t sc, m;
    k4_scale_min(is, b.scales, sc, m);
    float d1 = d * sc, m1 = dmin * m;
    k4_scale_min(is + 1, b.scales, sc, m);
    float d2 = d * sc, m2 = dmin * m;
    for (int l = 0; l < 32; ++l) *y++ = d1 * float((ql[l] & 0xF) + ((b.qh[l] & u1) ? 16 : 0)) - m1;
    for (int l = 0; l < 32; ++l) *y++ = d2 * float((ql[l] >> 4) + ((b.qh[l] & u2) ? 16 : 0)) - m2;
    u1 = uint8_t(u1 << 2);
    u2 = uint8_t(u2 << 2);
  }
}
void deq_q6_k(const BlockQ6_K& b, float* y) {
  float d = half_to_float(b.d);
  const uint8_t* ql = b.ql;
  const uint8_t* qh = b.qh;
  const int8_t* sc = b.scales;
  for (int n = 0; n < QK_K; n += 128) {
    for (int l = 0; l < 32; ++l) {
      int is = l / 16;
      int q1 = int((ql[l] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32;
      int q2 = int((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32;
      int q3 = int((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
      int q4 = int((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
      y[l] = d * sc[is + 0] * q1;
      y[l + 32] = d * sc[is + 2] * q2;
      y[l + 64] = d * sc[is + 4] * q3;
      y[l + 96] = d * sc[is + 6] * q4;
    }
    y += 128;
    ql += 64;
    qh += 32;
    sc += 8;
  }
}

void deq_mxfp4(const BlockMXFP4& b, float* y) {
  const float d = mxfp4_half_scale(b.e);
  for (int j = 0; j < QK / 2; ++j) {
    y[j] = float(kMxfp4Values[b.qs[j] & 0xF]) * d;
    y[j + QK / 2] = float(kMxfp4Values[b.qs[j] >> 4]) * d;
  }
}

template <class Block, void (*F)(const Block&, float*)>
void deq_blocks(const void* row, float* out, int64_t nblocks, int per_block) {
  auto* b = static_cast<const Block*>(row);
  for (int64_t i = 0; i < nblocks; ++i) F(b[i], out + i * per_block);
}

}  // namespace

bool kernels_support(DType t) noexcept {
  switch (t) {
    case DType::F32: case DType::F16: case DType::BF16: case DType::Q4_0: case DType::Q4_1:
    case DType::Q5_0: case DType::Q5_1: case DType::Q8_0: case DType::Q2_K: case DType::Q3_K:
    case DType::Q4_K: case DType::Q5_K: case DType::Q6_K: case DType::MXFP4: return true;
    default: return false;
  }
}

static void check_row(DType t, int64_t n, const char* fn) {
  auto g = geometry(t);
  if (!kernels_support(t)) throw UnsupportedError(std::string(fn) + ": no kernel for " + format_name(t));
  if (n < 0 || n % int64_t(g.elems) != 0)
    throw InvalidArgumentError(std::string(fn) + ": row length " + std::to_string(n) + " is not a multiple of the " +
                               format_name(t) + " block size " + std::to_string(g.elems));
}

void dequantize_row(DType t, const void* row, float* out, int64_t n) {
  check_row(t, n, "dequantize_row");
  switch (t) {
    case DType::F32: std::memcpy(out, row, size_t(n) * 4); return;
    case DType::F16: {
      auto* h = static_cast<const uint16_t*>(row);
      for (int64_t i = 0; i < n; ++i) out[i] = half_to_float(h[i]);
      return;
    }
    case DType::BF16: {
      auto* h = static_cast<const uint16_t*>(row);
      for (int64_t i = 0; i < n; ++i) out[i] = bf16_to_float(h[i]);
      return;
    }
    case DType::Q4_0: return deq_blocks<BlockQ4_0, deq_q4_0>(row, out, n / QK, QK);
    case DType::Q4_1: return deq_blocks<BlockQ4_1, deq_q4_1>(row, out, n / QK, QK);
    case DType::Q5_0: return deq_blocks<BlockQ5_0, deq_q5_0>(row, out, n / QK, QK);
    case DType::Q5_1: return deq_blocks<BlockQ5_1, deq_q5_1>(row, out, n / QK, QK);
    case DType::Q8_0: return deq_blocks<BlockQ8_0, deq_q8_0>(row, out, n / QK, QK);
    case DType::Q2_K: return deq_blocks<BlockQ2_K, deq_q2_k>(row, out, n / QK_K, QK_K);
    case DType::Q3_K: return deq_blocks<BlockQ3_K, deq_q3_k>(row, out, n / QK_K, QK_K);
    case DType::Q4_K: return deq_blocks<BlockQ4_K, deq_q4_k>(row, out, n / QK_K, QK_K);
    case DType::Q5_K: return deq_blocks<BlockQ5_K, deq_q5_k>(row, out, n / QK_K, QK_K);
    case DType::Q6_K: return deq_blocks<BlockQ6_K, deq_q6_k>(row, out, n / QK_K, QK_K);
    case DType::MXFP4: return deq_blocks<BlockMXFP4, deq_mxfp4>(row, out, n / QK, QK);
    default: break;
  }
}

float dot_row_f32(DType t, const void* row, const float* x, int64_t n) {
  check_row(t, n, "dot_row_f32");
  if (t == DType::F32) {
    auto* w = static_cast<const float*>(row);
    float acc[8] = {};
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
      for (int k = 0; k < 8; ++k) acc[k] += w[i + k] * x[i + k];
    float s = 0;
    for (; i < n; ++i) s += w[i] * x[i];
    for (float a : acc) s += a;
    return s;
  }
  // Dequantize a chunk of whole blocks at a time (256 is a multiple of every block size).
  constexpr int64_t kChunk = 256;
  auto g = geometry(t);
  const auto* bytes = static_cast<const uint8_t*>(row);
  float buf[kChunk];
  float s = 0;
  for (int64_t i = 0; i < n; i += kChunk) {
    int64_t len = std::min<int64_t>(kChunk, n - i);
    dequantize_row(t, bytes + size_t(i) / g.elems * g.bytes, buf, len);
    float acc[8] = {};
    int64_t k = 0;
    for (; k + 8 <= len; k += 8)
      for (int j = 0; j < 8; ++j) acc[j] += buf[k + j] * x[i + k + j];
    for (; k < len; ++k) s += buf[k] * x[i + k];
    for (float a : acc) s += a;
  }
  return s;
}

}  // namespace allm::gguf
