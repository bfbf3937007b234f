#pragma once
// GGUF matrices re-laid out at load for the AVX-512 VNNI kernels: 16 rows
// interleaved so that one 64-byte vector holds the same 4 codes of all 16
// rows (one vpdpbusd lane per row), and each block's 16 scales sit together.
// The bytes per row are about the stored format's, so
// a tensor of the interleaved type has the same row_bytes arithmetic, with
// its own bytes per block (Q4_K: 148 per 256 weights instead of 144, Q6_K:
// 274 instead of 210).
//
// A "panel" is 16 consecutive rows; panel p starts at p * 16 * row_bytes and
// holds, for each block b of the stored format in order, one panel block:
//
//  Q4_0x16 (per 32 elements, 288 bytes)
//    [0, 256)    4 nibble vectors: byte 4r+i of vector j has code 4j+i of row r
//                in its low nibble and code 4(j+4)+i in its high nibble
//    [256, 288)  f16 d of each row                       w = d * (code - 8)
//  Q8_0x16 (per 32 elements, 544 bytes)
//    [0, 512)    8 code vectors: byte 4r+i of vector k has code 4k+i of row r,
//                plus 128 (unsigned)
//    [512, 544)  f16 d of each row                       w = d * (code - 128)
//  Q4_Kx16 (per 256 elements, 2368 bytes)
//    [0, 2048)   8 sub-blocks of 32 codes, each as the 4 nibble vectors above
//    [2048, 2112) f16 d, then f16 dmin of each row
//    [2112, 2240) 6-bit scale sc[s] of sub-block s: 2 vectors, byte 4r+i of
//                vector v for sub-block 4v+i of row r
//    [2240, 2368) 6-bit min m[s], same order       w = d*sc*code - dmin*m
//  Q6_Kx16 (per 256 elements, 4384 bytes: 274 per row instead of 210)
//    [0, 4096)   the 6-bit codes as whole bytes, 8 vectors per 32 elements as
//                Q8_0x16 (unpacking 6-bit fields cost more than reading the
//                extra bytes: see docs/performance.md)
//    [4096, 4128) f16 d of each row
//    [4128, 4384) int8 scale of each 16 elements g: 4 vectors, byte 4r+i of
//                vector v for group 4v+i of row r
// (Scales sit at byte i of each row's dword so one in-lane byte shuffle
// puts a sub-block's 16 scales into 16 int32 lanes.)
//                                                  w = d * scale * (code - 32)
#include <cstdint>
#include <memory>

#include "allm/tensor.hpp"

namespace allm::gguf::detail {

constexpr int kInterleave = 16;

// Whether `w` can be interleaved: a 2-D matrix of a type with an interleaved
// layout and a multiple of 16 rows.
bool can_interleave(const Tensor& w) noexcept;
// Writes w's rows in the interleaved layout to `dst` (rows * row_bytes of
// the interleaved type bytes).
void interleave(const Tensor& w, uint8_t* dst);

// Unsigned codes (0..15 or 0..63), scale and offset per 16 elements of row r
// of one panel block: element e is scale[e/16] * code[e] - offset[e/16].
// `per` = 32 or 256 elements.
void decode_panel_row(DType interleaved, const uint8_t* panel_block, int r, uint8_t* code, float* scale,
                      float* offset);
// Rows [r0, r1) of an interleaved matrix as floats (dequant_rows).
void dequantize_interleaved(const Tensor& w, int64_t r0, int64_t r1, float* out);

}  // namespace allm::gguf::detail
