// Float -> block formats, used by the GGUF writer. The classic formats use
// llama.cpp's reference rounding (so files match llama-quantize's output);
// the K formats fit each sub-block's scale (and min) by a few rounds of least
// squares before packing the six-bit sub-block scales.
#include <algorithm>
#include <cmath>
#include <string>

#include "allm/error.hpp"
#include "allm/gguf.hpp"
#include "gguf/blocks.hpp"
#include "gguf/types.hpp"

namespace allm::gguf {
using namespace detail;

namespace {

int nearest_int(float v) { return int(std::lrintf(v)); }

// Largest-magnitude value, sign kept (the classic formats map it to the most
// negative code so the full code range is used).
float signed_absmax(const float* x, int n) {
  float amax = 0, max = 0;
  for (int i = 0; i < n; ++i)
    if (std::fabs(x[i]) > amax) {
      amax = std::fabs(x[i]);
      max = x[i];
    }
  return max;
}

void q8_0(const float* x, BlockQ8_0& b) {
  float amax = 0;
  for (int i = 0; i < QK; ++i) amax = std::max(amax, std::fabs(x[i]));
  float d = amax / 127.f, id = d ? 1.f / d : 0.f;
  b.d = float_to_half(d);
  for (int i = 0; i < QK; ++i) b.qs[i] = int8_t(std::round(x[i] * id));  // halves away from zero, as llama.cpp
}
void q4_0(const float* x, BlockQ4_0& b) {
  float d = signed_absmax(x, QK) / -8.f, id = d ? 1.f / d : 0.f;
  b.d = float_to_half(d);
  for (int j = 0; j < QK / 2; ++j) {
    int lo = std::min(15, int(int8_t(x[j] * id + 8.5f)));
    int hi = std::min(15, int(int8_t(x[j + QK / 2] * id + 8.5f)));
    b.qs[j] = uint8_t(lo | (hi << 4));
  }
}
void q5_0(const float* x, BlockQ5_0& b) {
  float d = signed_absmax(x, QK) / -16.f, id = d ? 1.f / d : 0.f;
  b.d = float_to_half(d);
  uint32_t qh = 0;
  for (int j = 0; j < QK / 2; ++j) {
    int lo = std::min(31, int(int8_t(x[j] * id + 16.5f)));
    int hi = std::min(31, int(int8_t(x[j + QK / 2] * id + 16.5f)));
    b.qs[j] = uint8_t((lo & 0xF) | ((hi & 0xF) << 4));
    qh |= uint32_t((lo >> 4) & 1) << j;
    qh |= uint32_t((hi >> 4) & 1) << (j + QK / 2);
  }
  std::memcpy(b.qh, &qh, 4);
}
template <class Block, int Levels>
void affine_block(const float* x, Block& b) {
  float mn = x[0], mx = x[0];
  for (int i = 1; i < QK; ++i) {
    mn = std::min(mn, x[i]);
    mx = std::max(mx, x[i]);
  }
  float d = (mx - mn) / float(Levels), id = d ? 1.f / d : 0.f;
  b.d = float_to_half(d);
  b.m = float_to_half(mn);
  uint32_t qh = 0;
  for (int j = 0; j < QK / 2; ++j) {
    int lo = std::min(Levels, int(int8_t((x[j] - mn) * id + 0.5f)));
    int hi = std::min(Levels, int(int8_t((x[j + QK / 2] - mn) * id + 0.5f)));
    b.qs[j] = uint8_t((lo & 0xF) | ((hi & 0xF) << 4));
    qh |= uint32_t((lo >> 4) & 1) << j;
    qh |= uint32_t((hi >> 4) & 1) << (j + QK / 2);
  }
  if constexpr (Levels == 31) std::memcpy(b.qh, &qh, 4);
}

// Fits x ~ scale * q - offset with q in [0, nmax], offset >= 0, for one
// sub-block; returns scale and offset. Alternates rounding and least squares.
void fit_scale_min(const float* x, int n, int nmax, float& scale, float& offset) {
  float mn = 0, mx = x[0];
  for (int i = 0; i < n; ++i) {
    mn = std::min(mn, x[i]);
    mx = std::max(mx, x[i]);
  }
  if (mx <= mn) {
    scale = 0;
    offset = -mn;
    return;
  }
  scale = (mx - mn) / float(nmax);
  offset = -mn;
  float best_err = INFINITY, best_scale = scale, best_offset = offset;
  for (int iter = 0; iter < 6; ++iter) {
    // assign codes, measure, then refit (scale, offset) by least squares
    double sq = 0, sx = 0, sqq = 0, sqx = 0, err = 0;
    for (int i = 0; i < n; ++i) {
      int q = std::clamp(nearest_int((x[i] + offset) / scale), 0, nmax);
      float e = scale * q - offset - x[i];
      err += e * e;
      sq += q;
      sx += x[i];
      sqq += double(q) * q;
      sqx += double(q) * x[i];
    }
    if (err < best_err) {
      best_err = float(err);
      best_scale = scale;
      best_offset = offset;
    }
    double det = n * sqq - sq * sq;
    if (det <= 0) break;
    double s = (n * sqx - sq * sx) / det;
    double m = (sx - s * sq) / n;  // x ~ s*q + m
    if (m > 0) {  // offset must be >= 0: refit the scale alone with m = 0
      m = 0;
      s = sqq > 0 ? sqx / sqq : scale;
    }
    if (s <= 0) break;
    scale = float(s);
    offset = float(-m);
  }
  scale = best_scale;
  offset = best_offset;
}

// Packs 8 six-bit scales and mins (Q4_K / Q5_K) and returns the codes.
template <int Nmax>
void k4_codes(const float* x, uint16_t& d_out, uint16_t& dmin_out, uint8_t scales[12], uint8_t L[QK_K]) {
  float sc[8], mn[8];
  float max_sc = 0, max_mn = 0;
  for (int j = 0; j < 8; ++j) {
    fit_scale_min(x + 32 * j, 32, Nmax, sc[j], mn[j]);
    max_sc = std::max(max_sc, sc[j]);
    max_mn = std::max(max_mn, mn[j]);
  }
  float inv_sc = max_sc > 0 ? 63.f / max_sc : 0.f;
  float inv_mn = max_mn > 0 ? 63.f / max_mn : 0.f;
  uint8_t ls[8], lm[8];
  for (int j = 0; j < 8; ++j) {
    ls[j] = uint8_t(std::min(63, nearest_int(inv_sc * sc[j])));
    lm[j] = uint8_t(std::min(63, nearest_int(inv_mn * mn[j])));
  }
  std::memset(scales, 0, 12);
  for (int j = 0; j < 8; ++j) {
    if (j < 4) {
      scales[j] = ls[j];
      scales[j + 4] = lm[j];
    } else {
      scales[j + 4] = uint8_t((ls[j] & 0xF) | ((lm[j] & 0xF) << 4));
      scales[j - 4] |= uint8_t((ls[j] >> 4) << 6);
      scales[j] |= uint8_t((lm[j] >> 4) << 6);
    }
  }
  d_out = float_to_half(max_sc / 63.f);
  dmin_out = float_to_half(max_mn / 63.f);
  float d = half_to_float(d_out), dmin = half_to_float(dmin_out);
  for (int j = 0; j < 8; ++j) {
    uint8_t s, m;
    k4_scale_min(j, scales, s, m);
    float ds = d * s, dm = dmin * m;
    for (int i = 0; i < 32; ++i)
      L[32 * j + i] = ds > 0 ? uint8_t(std::clamp(nearest_int((x[32 * j + i] + dm) / ds), 0, Nmax)) : 0;
  }
}

void q4_k(const float* x, BlockQ4_K& b) {
  uint8_t L[QK_K];
  k4_codes<15>(x, b.d, b.dmin, b.scales, L);
  uint8_t* q = b.qs;
  for (int j = 0; j < QK_K; j += 64, q += 32)
    for (int l = 0; l < 32; ++l) q[l] = uint8_t(L[j + l] | (L[j + l + 32] << 4));
}
void q5_k(const float* x, BlockQ5_K& b) {
  uint8_t L[QK_K];
  k4_codes<31>(x, b.d, b.dmin, b.scales, L);
  std::memset(b.qh, 0, sizeof b.qh);
  uint8_t* ql = b.qs;
  uint8_t m1 = 1, m2 = 2;
  for (int n = 0; n < QK_K; n += 64, ql += 32) {
    for (int l = 0; l < 32; ++l) {
      int l1 = L[n + l], l2 = L[n + l + 32];
      if (l1 > 15) { l1 -= 16; b.qh[l] |= m1; }
      if (l2 > 15) { l2 -= 16; b.qh[l] |= m2; }
      ql[l] = uint8_t(l1 | (l2 << 4));
    }
    m1 = uint8_t(m1 << 2);
    m2 = uint8_t(m2 << 2);
  }
}

// Symmetric scale for 16 values with codes in [-32, 31]: try a few scales
// around the one that maps the largest magnitude to -32, keep the best.
float fit_symmetric(const float* x, int n) {
  float max = signed_absmax(x, n);
  if (max == 0) return 0;
  float best = max / -32.f, best_err = INFINITY;
  for (int k = -4; k <= 4; ++k) {
    float s = max / (-32.f + 0.25f * k);
    float err = 0;
    for (int i = 0; i < n; ++i) {
      int q = std::clamp(nearest_int(x[i] / s), -32, 31);
      float e = s * q - x[i];
      err += e * e;
    }
    if (err < best_err) {
      best_err = err;
      best = s;
    }
  }
  return best;
}

void q6_k(const float* x, BlockQ6_K& b) {
  float sc[16], max_sc = 0, amax = 0;
  for (int j = 0; j < 16; ++j) {
    sc[j] = fit_symmetric(x + 16 * j, 16);
    if (std::fabs(sc[j]) > amax) {
      amax = std::fabs(sc[j]);
      max_sc = sc[j];
    }
  }
  uint8_t L[QK_K];
  if (max_sc == 0) {
    std::memset(&b, 0, sizeof b);
    std::memset(L, 32, sizeof L);
  } else {
    float iscale = -128.f / max_sc;
    b.d = float_to_half(1.f / iscale);
    for (int j = 0; j < 16; ++j) b.scales[j] = int8_t(std::min(127, nearest_int(iscale * sc[j])));
    float d = half_to_float(b.d);
    for (int j = 0; j < 16; ++j) {
      float ds = d * b.scales[j];
      for (int i = 0; i < 16; ++i)
        L[16 * j + i] = uint8_t((ds != 0 ? std::clamp(nearest_int(x[16 * j + i] / ds), -32, 31) : 0) + 32);
    }
  }
  uint8_t* ql = b.ql;
  uint8_t* qh = b.qh;
  for (int j = 0; j < QK_K; j += 128, ql += 64, qh += 32) {
    for (int l = 0; l < 32; ++l) {
      uint8_t q1 = L[j + l], q2 = L[j + l + 32], q3 = L[j + l + 64], q4 = L[j + l + 96];
      ql[l] = uint8_t((q1 & 0xF) | ((q3 & 0xF) << 4));
      ql[l + 32] = uint8_t((q2 & 0xF) | ((q4 & 0xF) << 4));
      qh[l] = uint8_t((q1 >> 4) | ((q2 >> 4) << 2) | ((q3 >> 4) << 4) | ((q4 >> 4) << 6));
    }
  }
}

// ggml's reference: the exponent puts the largest magnitude in [4, 8) times
// the halved scale (the doubled codes' top value is 12), then each value takes
// the nearest code (first one on ties).
void mxfp4(const float* x, BlockMXFP4& b) {
  float amax = 0;
  for (int j = 0; j < QK; ++j) amax = std::max(amax, std::fabs(x[j]));
  b.e = amax > 0 ? uint8_t(std::floor(std::log2(amax)) - 2 + 127) : 0;
  const float d = mxfp4_half_scale(b.e);
  auto nearest = [d](float v) {
    int best = 0;
    float best_err = std::fabs(float(kMxfp4Values[0]) * d - v);
    for (int i = 1; i < 16; ++i) {
      const float err = std::fabs(float(kMxfp4Values[i]) * d - v);
      if (err < best_err) best = i, best_err = err;
    }
    return uint8_t(best);
  };
  for (int j = 0; j < QK / 2; ++j) b.qs[j] = uint8_t(nearest(x[j]) | nearest(x[j + QK / 2]) << 4);
}

template <class Block, int Per, void (*F)(const float*, Block&)>
void blocks(const float* x, void* out, int64_t n) {
  auto* b = static_cast<Block*>(out);
  for (int64_t i = 0; i < n / Per; ++i) F(x + i * Per, b[i]);
}

}  // namespace

bool quantize_supported(DType t) noexcept {
  switch (t) {
    case DType::F32: case DType::F16: case DType::BF16: case DType::Q8_0: case DType::Q4_0:
    case DType::Q4_1: case DType::Q5_0: case DType::Q5_1: case DType::Q4_K: case DType::Q5_K:
    case DType::Q6_K: case DType::MXFP4: return true;
    default: return false;
  }
}

void quantize_row(DType t, const float* x, void* out, int64_t n) {
  auto g = geometry(t);
  if (!quantize_supported(t)) throw UnsupportedError(std::string("quantize_row: cannot write ") + format_name(t));
  if (n < 0 || n % int64_t(g.elems) != 0)
    throw InvalidArgumentError("quantize_row: row length " + std::to_string(n) + " is not a multiple of the " +
                               format_name(t) + " block size " + std::to_string(g.elems));
  switch (t) {
    case DType::F32: std::memcpy(out, x, size_t(n) * 4); return;
    case DType::F16: {
      auto* h = static_cast<uint16_t*>(out);
      for (int64_t i = 0; i < n; ++i) h[i] = float_to_half(x[i]);
      return;
    }
    case DType::BF16: {
      auto* h = static_cast<uint16_t*>(out);
      for (int64_t i = 0; i < n; ++i) h[i] = float_to_bf16(x[i]);
      return;
    }
    case DType::Q8_0: return blocks<BlockQ8_0, QK, q8_0>(x, out, n);
    case DType::Q4_0: return blocks<BlockQ4_0, QK, q4_0>(x, out, n);
    case DType::Q4_1: return blocks<BlockQ4_1, QK, affine_block<BlockQ4_1, 15>>(x, out, n);
    case DType::Q5_0: return blocks<BlockQ5_0, QK, q5_0>(x, out, n);
    case DType::Q5_1: return blocks<BlockQ5_1, QK, affine_block<BlockQ5_1, 31>>(x, out, n);
    case DType::Q4_K: return blocks<BlockQ4_K, QK_K, q4_k>(x, out, n);
    case DType::Q5_K: return blocks<BlockQ5_K, QK_K, q5_k>(x, out, n);
    case DType::Q6_K: return blocks<BlockQ6_K, QK_K, q6_k>(x, out, n);
    case DType::MXFP4: return blocks<BlockMXFP4, QK, mxfp4>(x, out, n);
    default: break;
  }
}

}  // namespace allm::gguf
