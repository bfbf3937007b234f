// Stored GGUF rows <-> the 16-row interleaved layout (interleave.hpp), in
// portable code: interleaving runs once per matrix at load, and the scalar
// decoder serves embedding lookups and tests.
#include "gguf/interleave.hpp"

#include <algorithm>
#include <cstring>
#include <thread>
#include <vector>

#include "allm/error.hpp"
#include "allm/gguf.hpp"
#include "gguf/blocks.hpp"
#include "gguf/codes.hpp"

namespace allm::gguf::detail {
namespace {

constexpr int kNibbleBytes = 256;  // 4 nibble vectors of 64 bytes: 32 codes x 16 rows

// Codes [32j, 32j+32) of all 16 rows (codes[r][e]; low 4 bits) into the 4
// nibble vectors at `dst`.
void put_nibbles(uint8_t* dst, const uint8_t (*codes)[256], int j) {
  for (int v = 0; v < 4; ++v)
    for (int r = 0; r < kInterleave; ++r)
      for (int i = 0; i < 4; ++i) {
        const uint8_t* c = codes[r] + 32 * j;
        dst[v * 64 + 4 * r + i] = uint8_t((c[4 * v + i] & 0xF) | ((c[4 * (v + 4) + i] & 0xF) << 4));
      }
}

uint8_t get_nibble(const uint8_t* src, int r, int e) {
  const int k = e / 4, i = e % 4;
  const uint8_t byte = src[(k % 4) * 64 + 4 * r + i];
  return k < 4 ? byte & 0xF : byte >> 4;
}

void put_half(uint8_t* dst, int r, uint16_t h) { std::memcpy(dst + 2 * r, &h, 2); }
float get_half(const uint8_t* src, int r) {
  uint16_t h;
  std::memcpy(&h, src + 2 * r, 2);
  return half_to_float(h);
}

// One panel block from the same block b of 16 stored rows.
void interleave_block(DType stored, const uint8_t* const* rows, int64_t b, uint8_t* out) {
  // Q8_0 and Q4_0 need no decoding: Q8_0x16's bytes are the codes + 128, and
  // Q4_0x16's nibble vectors are the stored qs bytes themselves (byte j holds
  // codes j and j+16).
  if (stored == DType::Q8_0 || stored == DType::Q4_0) {
    const bool q8 = stored == DType::Q8_0;
    const size_t block = q8 ? sizeof(BlockQ8_0) : sizeof(BlockQ4_0);
    for (int r = 0; r < kInterleave; ++r) {
      const uint8_t* blk = rows[r] + size_t(b) * block;
      for (int k = 0; k < (q8 ? 8 : 4); ++k) {
        uint32_t v;
        std::memcpy(&v, blk + 2 + 4 * k, 4);
        if (q8) v ^= 0x80808080u;
        std::memcpy(out + 64 * k + 4 * r, &v, 4);
      }
      std::memcpy(out + (q8 ? 512 : kNibbleBytes) + 2 * r, blk, 2);  // f16 d
    }
    return;
  }
  DecodedBlock blk;
  uint8_t codes[kInterleave][256];
  // signed code -> the unsigned code the layout stores
  const int bias = stored == DType::Q4_0 ? 8 : stored == DType::Q6_K ? 32 : stored == DType::Q8_0 ? 128 : 0;
  const int per = decoded_block_elems(stored);
  for (int r = 0; r < kInterleave; ++r) {
    if (!decode_block(stored, rows[r], b, blk))
      throw UnsupportedError(std::string("interleave: no layout for ") + dtype_name(stored));
    for (int e = 0; e < per; ++e) codes[r][e] = uint8_t(blk.code[e] + bias);
  }
  if (stored == DType::Q8_0 || stored == DType::Q6_K) {  // whole-byte codes
    for (int k = 0; k < per / 4; ++k)
      for (int r = 0; r < kInterleave; ++r) std::memcpy(out + 64 * k + 4 * r, codes[r] + 4 * k, 4);
  } else {
    for (int j = 0; j < per / 32; ++j) put_nibbles(out + j * kNibbleBytes, codes, j);
  }
  for (int r = 0; r < kInterleave; ++r) {
    switch (stored) {
      case DType::Q4_0:
        put_half(out + kNibbleBytes, r, reinterpret_cast<const BlockQ4_0*>(rows[r])[b].d);
        break;
      case DType::Q8_0:
        put_half(out + 512, r, reinterpret_cast<const BlockQ8_0*>(rows[r])[b].d);
        break;
      case DType::Q4_K: {
        const auto& raw = reinterpret_cast<const BlockQ4_K*>(rows[r])[b];
        for (int s = 0; s < 8; ++s) {
          uint8_t sc, m;
          k4_scale_min(s, raw.scales, sc, m);
          out[2112 + 64 * (s / 4) + 4 * r + s % 4] = sc;
          out[2240 + 64 * (s / 4) + 4 * r + s % 4] = m;
        }
        put_half(out + 2048, r, raw.d);
        put_half(out + 2080, r, raw.dmin);
        break;
      }
      default: {  // Q6_K
        const auto& raw = reinterpret_cast<const BlockQ6_K*>(rows[r])[b];
        put_half(out + 4096, r, raw.d);
        for (int g = 0; g < 16; ++g) out[4128 + 64 * (g / 4) + 4 * r + g % 4] = uint8_t(raw.scales[g]);
        break;
      }
    }
  }
}

}  // namespace

bool can_interleave(const Tensor& w) noexcept {
  return w.shape.size() == 2 && interleaved_type(w.dtype) != w.dtype && w.rows() % kInterleave == 0 &&
         w.cols() % int64_t(dtype_block_elems(w.dtype)) == 0;
}

void interleave(const Tensor& w, uint8_t* dst) {
  if (!can_interleave(w)) throw InvalidArgumentError("tensor '" + w.name + "': cannot be interleaved by 16 rows");
  const DType to = interleaved_type(w.dtype);
  const int64_t blocks = w.cols() / int64_t(dtype_block_elems(w.dtype));
  const size_t src_stride = row_bytes(w.dtype, w.cols()), panel_block = 16 * dtype_block_bytes(to);
  const auto* base = static_cast<const uint8_t*>(w.data);
  auto panels = [&](int64_t p0, int64_t p1) {
    for (int64_t p = p0; p < p1; ++p) {
      const uint8_t* rows[kInterleave];
      for (int r = 0; r < kInterleave; ++r) rows[r] = base + size_t(p * kInterleave + r) * src_stride;
      uint8_t* panel = dst + size_t(p) * panel_block * size_t(blocks);
      for (int64_t b = 0; b < blocks; ++b) interleave_block(w.dtype, rows, b, panel + size_t(b) * panel_block);
    }
  };
  // Large matrices (the output projection) are split over the cores: this
  // runs once per matrix at load, before any thread pool exists.
  const int64_t count = w.rows() / kInterleave;
  const int64_t threads = std::clamp<int64_t>(std::thread::hardware_concurrency(), 1, std::max<int64_t>(1, count / 256));
  std::vector<std::thread> workers;
  for (int64_t i = 1; i < threads; ++i) workers.emplace_back(panels, count * i / threads, count * (i + 1) / threads);
  panels(0, count / threads);
  for (auto& t : workers) t.join();
}

void decode_panel_row(DType t, const uint8_t* blk, int r, uint8_t* code, float* scale, float* offset) {
  switch (t) {
    case DType::Q4_0_X16: {
      for (int e = 0; e < 32; ++e) code[e] = get_nibble(blk, r, e);
      const float d = get_half(blk + kNibbleBytes, r);
      scale[0] = scale[1] = d;
      offset[0] = offset[1] = 8 * d;
      return;
    }
    case DType::Q8_0_X16: {
      for (int e = 0; e < 32; ++e) code[e] = blk[(e / 4) * 64 + 4 * r + e % 4];
      const float d = get_half(blk + 512, r);
      scale[0] = scale[1] = d;
      offset[0] = offset[1] = 128 * d;
      return;
    }
    case DType::Q4_K_X16: {
      const float d = get_half(blk + 2048, r), dmin = get_half(blk + 2080, r);
      for (int s = 0; s < 8; ++s) {
        for (int e = 0; e < 32; ++e) code[32 * s + e] = get_nibble(blk + s * kNibbleBytes, r, e);
        scale[2 * s] = scale[2 * s + 1] = d * float(blk[2112 + 64 * (s / 4) + 4 * r + s % 4]);
        offset[2 * s] = offset[2 * s + 1] = dmin * float(blk[2240 + 64 * (s / 4) + 4 * r + s % 4]);
      }
      return;
    }
    case DType::Q6_K_X16: {
      const float d = get_half(blk + 4096, r);
      for (int e = 0; e < 256; ++e) code[e] = blk[(e / 4) * 64 + 4 * r + e % 4];
      for (int g = 0; g < 16; ++g) {
        scale[g] = d * float(int8_t(blk[4128 + 64 * (g / 4) + 4 * r + g % 4]));
        offset[g] = 32 * scale[g];
      }
      return;
    }
    default: throw UnsupportedError(std::string("decode_panel_row: ") + dtype_name(t) + " is not interleaved");
  }
}

void dequantize_interleaved(const Tensor& w, int64_t r0, int64_t r1, float* out) {
  const int64_t cols = w.cols(), per = int64_t(dtype_block_elems(w.dtype)), blocks = cols / per;
  const size_t panel_block = 16 * dtype_block_bytes(w.dtype);
  const auto* base = static_cast<const uint8_t*>(w.data);
  uint8_t code[256];
  float scale[16], offset[16];
  for (int64_t row = r0; row < r1; ++row) {
    const uint8_t* panel = base + size_t(row / kInterleave) * panel_block * size_t(blocks);
    float* o = out + (row - r0) * cols;
    for (int64_t b = 0; b < blocks; ++b) {
      decode_panel_row(w.dtype, panel + size_t(b) * panel_block, int(row % kInterleave), code, scale, offset);
      for (int64_t e = 0; e < per; ++e) o[b * per + e] = scale[e / 16] * float(code[e]) - offset[e / 16];
    }
  }
}

}  // namespace allm::gguf::detail
