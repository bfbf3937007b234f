// Inverse of the CPU's 16-row interleaving (sdk/src/gguf/interleave.hpp gives
// the byte layout of a panel block; this undoes interleave_block exactly).
#include "stored_layout.hpp"

#include <cstring>
#include <string>

#include "allm/error.hpp"

namespace allm::cuda {
namespace {

constexpr int kRows = 16;

// Code e (0..31) of one 32-code group of row r in 4 nibble vectors of 64 bytes.
uint8_t nibble(const uint8_t* vectors, int r, int e) {
  const int k = e / 4, i = e % 4;
  const uint8_t byte = vectors[(k % 4) * 64 + 4 * r + i];
  return k < 4 ? byte & 0xF : byte >> 4;
}

void restore_block(DType t, const uint8_t* panel, int r, uint8_t* out) {
  switch (t) {
    case DType::Q4_0_X16:  // qs bytes as stored in 4 vectors, then f16 d
      std::memcpy(out, panel + 256 + 2 * r, 2);
      for (int k = 0; k < 4; ++k) std::memcpy(out + 2 + 4 * k, panel + 64 * k + 4 * r, 4);
      return;
    case DType::Q8_0_X16:  // codes + 128 in 8 vectors, then f16 d
      std::memcpy(out, panel + 512 + 2 * r, 2);
      for (int k = 0; k < 8; ++k)
        for (int i = 0; i < 4; ++i) out[2 + 4 * k + i] = uint8_t(panel[64 * k + 4 * r + i] ^ 0x80);
      return;
    case DType::Q4_K_X16: {  // BlockQ4_K: d, dmin, scales[12], qs[128]
      std::memcpy(out, panel + 2048 + 2 * r, 2);
      std::memcpy(out + 2, panel + 2080 + 2 * r, 2);
      uint8_t sc[8], m[8];
      for (int s = 0; s < 8; ++s) {
        sc[s] = panel[2112 + 64 * (s / 4) + 4 * r + s % 4];
        m[s] = panel[2240 + 64 * (s / 4) + 4 * r + s % 4];
      }
      uint8_t* q = out + 4;
      for (int j = 0; j < 4; ++j) {
        q[j] = uint8_t((sc[j] & 63) | ((sc[j + 4] >> 4) << 6));
        q[j + 4] = uint8_t((m[j] & 63) | ((m[j + 4] >> 4) << 6));
        q[j + 8] = uint8_t((sc[j + 4] & 0xF) | ((m[j + 4] & 0xF) << 4));
      }
      uint8_t* qs = out + 16;  // byte 32c + l: element 64c + l (low), 64c + 32 + l (high)
      for (int c = 0; c < 4; ++c)
        for (int l = 0; l < 32; ++l)
          qs[32 * c + l] = uint8_t(nibble(panel + 256 * (2 * c), r, l) | (nibble(panel + 256 * (2 * c + 1), r, l) << 4));
      return;
    }
    case DType::Q6_K_X16: {  // BlockQ6_K: ql[128], qh[64], scales[16], d
      uint8_t code[256];  // unsigned 0..63, element order: byte 64k + 4r + i holds element 4k + i
      for (int k = 0; k < 64; ++k) std::memcpy(code + 4 * k, panel + 64 * k + 4 * r, 4);
      uint8_t* ql = out;
      uint8_t* qh = out + 128;
      std::memset(qh, 0, 64);
      for (int n = 0; n < 2; ++n)
        for (int l = 0; l < 32; ++l) {
          const uint8_t* c = code + 128 * n;
          ql[64 * n + l] = uint8_t((c[l] & 0xF) | ((c[l + 64] & 0xF) << 4));
          ql[64 * n + 32 + l] = uint8_t((c[l + 32] & 0xF) | ((c[l + 96] & 0xF) << 4));
          qh[32 * n + l] = uint8_t((c[l] >> 4) | ((c[l + 32] >> 4) << 2) | ((c[l + 64] >> 4) << 4) | ((c[l + 96] >> 4) << 6));
        }
      for (int g = 0; g < 16; ++g) out[192 + g] = panel[4128 + 64 * (g / 4) + 4 * r + g % 4];
      std::memcpy(out + 208, panel + 4096 + 2 * r, 2);
      return;
    }
    default:
      throw UnsupportedError(std::string("CUDA backend: no stored layout for ") + dtype_name(t));
  }
}

}  // namespace

std::vector<uint8_t> restore_stored_rows(const Tensor& w) {
  if (!is_interleaved(w.dtype))
    throw UnsupportedError("tensor '" + w.name + "': " + dtype_name(w.dtype) + " is not an interleaved layout");
  const DType stored = stored_type(w.dtype);
  const int64_t rows = w.rows(), blocks = w.cols() / int64_t(dtype_block_elems(stored));
  const size_t block = dtype_block_bytes(stored), panel_block = kRows * dtype_block_bytes(w.dtype);
  if (rows % kRows != 0 || w.cols() % int64_t(dtype_block_elems(stored)) != 0)
    throw InvalidArgumentError("tensor '" + w.name + "': not a whole number of 16-row panels and blocks");
  std::vector<uint8_t> out(size_t(rows * blocks) * block);
  const auto* base = static_cast<const uint8_t*>(w.data);
  for (int64_t p = 0; p < rows / kRows; ++p)
    for (int64_t b = 0; b < blocks; ++b) {
      const uint8_t* panel = base + size_t(p * blocks + b) * panel_block;
      for (int r = 0; r < kRows; ++r)
        restore_block(w.dtype, panel, r, out.data() + size_t((p * kRows + r) * blocks + b) * block);
    }
  return out;
}

}  // namespace allm::cuda
