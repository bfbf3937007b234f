#pragma once
// Several tokens times BF16/F16 weight rows on AMX tiles (TDPBF16PS: a 16x32
// by 32x16 BF16 product into 16x16 floats, 16 times the multiply-adds of an
// AVX-512 FMA per cycle). Prefill is compute-bound, so this is its speed.
//
// Precision: BF16 keeps 8 significant bits, far too few for activations
// (decode, on F32 activations, must agree with the batched forward within 1e-4
// on the logits), so each activation is split once per matmul into three BF16
// parts, x = hi + mid + lo (24 significant bits, F32's), and the exact BF16
// products sum in F32: W·x = W·hi + W·mid + W·lo. F16 weights (11 significant
// bits) are split per panel, w = whi + wlo exactly, and whi·(hi + mid + lo) +
// wlo·hi is kept (the dropped wlo·(mid + lo) is below 2^-17 of the product:
// the F16 weights' own rounding is 2^-11).
// Two parts (16 bits) were tried: decode and the full forward then differed by
// up to 3.6e-4 on the bfloat16 fixtures.
//
// Layout: weights are the A operand, copied per chunk of rows (512 KiB, kept
// in L2 while every token block passes over it) into a per-thread panel of
// contiguous 1 KiB tiles: read in place, each tile load touched 16 lines 2-6
// KiB apart and the loads stalled the tile unit (BF16 linear 3072x1024 by 512
// tokens, one thread: 12.4 -> 10.5 ms; F16, which was converted into a
// row-major panel before, 17.5 -> 13.5 ms). F16 rows are split into BF16 hi and
// lo tiles as they are copied. The activations are the
// B operand, converted by `prepare` into 1 KiB tiles of 16 tokens x 32
// columns (hi, mid, lo) in the pair-interleaved order TDPBF16PS reads. Columns past the last
// multiple of 32 and rows past the last multiple of 16 are summed in F32 from
// the F32 activations themselves.
#include <stddef.h>
#include <stdint.h>

namespace allm::kernels::amx {

// Start of a prepared buffer (see prepared_bytes).
struct Prepared {
  int64_t n;       // tokens
  int64_t cols;    // activation length (the weights' columns)
  int64_t k32;     // cols rounded down to a multiple of 32 (the tiled part)
  int64_t blocks;  // token blocks of 16 (tokens padded with zeros); 0: no tiles
  // The F32 activations `prepare` was given, for the parts summed in F32 and
  // for one token: the backend multiplies right after preparing, while its
  // input is alive, so they are read in place rather than copied.
  const float* src;
  // When `blocks` > 0, tiles follow (from the next cache line): for each
  // token block, for each 32-column block, hi, mid then lo, 1 KiB each.
};

// True when the CPU has AMX-TILE and AMX-BF16 and the kernel granted this
// process the tile state (arch_prctl ARCH_REQ_XCOMP_PERM). Asked once.
bool usable();

// Bytes `prepare` writes for n tokens of `cols` floats; `tiles` says whether
// the AMX tiles are built (false: only the header). `x` must outlive the
// matmul calls on `out` (Prepared::src).
size_t prepared_bytes(int64_t n, int64_t cols, bool tiles);
void prepare(const float* x, int64_t n, int64_t cols, bool tiles, void* out);

// y[t * ldy + r] = dot(row r of w, token t) for r in [r0, r1) and every token of
// `p` (built with tiles). w is row-major with p.cols columns. `scratch` holds
// at least panel_scratch_halves(cols) halves (the weight panel).
void matmul_bf16(const uint16_t* w, int64_t r0, int64_t r1, const Prepared& p, float* y, int64_t ldy,
                 uint16_t* scratch);
void matmul_f16(const uint16_t* w, int64_t r0, int64_t r1, const Prepared& p, float* y, int64_t ldy,
                uint16_t* scratch);
int64_t panel_scratch_halves(int64_t cols);

}  // namespace allm::kernels::amx
