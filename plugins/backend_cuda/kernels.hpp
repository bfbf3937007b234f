#pragma once
// The CUDA kernels' host-side entry points. Every pointer is a device pointer,
// activations are F32 row-major [tokens][features] as in compute.hpp, and each
// call only enqueues work on `stream` (errors of the launch itself throw
// allm::Error through check_launch). One .cu file per job.
#include <cstdint>

#include <cuda_runtime_api.h>

#include "cublas_library.hpp"
#include "device_weight.hpp"

namespace allm::cuda {

// Throws allm::Error naming `what` when a CUDA call failed.
void check(cudaError_t status, const char* what);
// After a launch: the launch's own error (bad configuration, no kernel image).
void check_launch(const char* kernel);
// The current device's multiprocessors (read once; 132 if it cannot be read).
int multiprocessors();

// ---- linear: y[t * ldy + r] = W x[t] (+ bias[r])
// Decode: a dequantising GEMV, one warp per row, at most kGemvMaxTokens tokens.
constexpr int64_t kGemvMaxTokens = 8;
void gemv(const DeviceWeight& w, const float* x, int64_t n, float* y, int64_t ldy, const float* bias,
          cudaStream_t stream);
// Benchmarks: rows each GEMV warp streams (1 or 2; default 2).
void set_gemv_rows_per_warp(int rows);
// Decode with int8 dot products (gemv_int8.cu): the activations of n tokens
// ([n][cols] F32, cols a multiple of 32) quantised to int8 blocks of 32 (q:
// [n][cols] codes, ds: [n][cols / 32] of (scale, scale * sum of codes)), then
// multiplied with the weight blocks as integers. Formats: Q4_K, and Q8_0 / Q6_K
// in the backend's split layouts (gemv_int8_supports says which weights).
void quantize_q8(const float* x, int64_t n, int64_t cols, int8_t* q, float2* ds, cudaStream_t stream);
bool gemv_int8_supports(const DeviceWeight& w);
void gemv_int8(const DeviceWeight& w, const int8_t* q, const float2* ds, int64_t n, float* y, int64_t ldy,
               const float* bias, cudaStream_t stream);
// Several matrices of one format and row length times the same activations
// (a decoder's q/k/v or gate/up) in one launch: their rows one after another.
struct GemvJob {
  DeviceWeight w;
  float* y = nullptr;  // [n][ldy]
  int64_t ldy = 0;
  const float* bias = nullptr;
};
constexpr int kMaxGemvJobs = 3;
void gemv_int8_jobs(const GemvJob* jobs, int count, const int8_t* q, const float2* ds, int64_t n, cudaStream_t stream);
// Several tokens on the int8 tensor cores (gemm_int8.cu, "MMQ"; the backend
// takes it for 4 to 128): the same quantised activations as gemv_int8 (quantize_q8's q and
// ds), the same weight formats (gemm_int8_supports == gemv_int8_supports), no
// F16 copy of the weights. `partial` (device, partial_elems floats; may be
// null) is scratch for splitting a row's blocks over several CTAs when the
// tiles alone are too few to fill the GPU (batched decode of small matrices);
// kGemmInt8Partials is enough for every split the kernel chooses on GPUs of up
// to ~160 SMs (less scratch: fewer splits).
constexpr int64_t kGemmInt8Partials = int64_t(4) << 20;
bool gemm_int8_supports(const DeviceWeight& w);
void gemm_int8(const DeviceWeight& w, const int8_t* q, const float2* ds, int64_t n, float* y, int64_t ldy,
               const float* bias, float* partial, int64_t partial_elems, cudaStream_t stream);
// Reads `bytes` (a multiple of 16, 16-byte aligned) once, as fast as the
// card allows (benchmarks: the read bandwidth a decode GEMV can approach).
// sink: one device word the kernel may write.
void read_probe(const void* data, int64_t bytes, unsigned* sink, cudaStream_t stream);
// Decode over F16 / BF16 rows (16-byte aligned, cols a multiple of 8) with
// F32 activations: one warp per row, 16-byte loads, F32 arithmetic.
bool gemv_wide_supports(const DeviceWeight& w);
void gemv_wide(const DeviceWeight& w, const float* x, int64_t n, float* y, int64_t ldy, const float* bias,
               cudaStream_t stream);
// One token: `split` warps a row (1, 2 or 4; 0: gemv_wide_split's choice).
void gemv_wide_jobs(const GemvJob* jobs, int count, const float* x, int64_t n, cudaStream_t stream, int split = 0);
// The one-token F16 / BF16 GEMV's warps a row of `cols` elements: up to 4,
// while each keeps two passes of its loads (ALLM_CUDA_GEMV_SPLIT=1|2|4 fixes it).
int gemv_wide_split(int64_t cols);
// Prefill: tiles of 64 tokens x 64 rows; weight slices dequantised into shared
// memory, TF32 tensor cores with the activations split into two TF32 parts
// (16-bit weights are exact in TF32: about F32 accuracy); F32 weights by F32 FMA.
void gemm(const DeviceWeight& w, const float* x, int64_t n, float* y, int64_t ldy, const float* bias,
          cudaStream_t stream);
// Prefill on the tensor cores through cuBLAS (gemm_cublas.cu): 16-bit
// weights in place, every other format but F32 dequantised to F16 a tile of
// rows at a time; activations as F16 (two parts, value and remainder, for
// BF16 and MLX weights), each token scaled by a power of two; F32 accumulation. The caller owns the
// handle (with its workspace) and the scratch: activations as
// cublas_gemm_activation_elems says, a weight tile of at least one row
// (cublas_gemm_tile_elems: the whole matrix up to kCublasTileElems; a smaller
// tile takes more, smaller products); everything is enqueued on `stream`.
struct CublasGemm {
  const CublasLibrary* lib = nullptr;
  cublasHandle_t handle = nullptr;
  uint16_t* tile = nullptr;         // dequantised weight rows (F16)
  int64_t tile_elems = 0;
  uint16_t* activations = nullptr;  // the tokens' 16-bit activations
  int64_t activation_elems = 0;
  float* token_scale = nullptr;     // per token
  int64_t tokens = 0;
};
constexpr int64_t kCublasTileElems = int64_t(64) << 20;  // 128 MiB of F16 weight rows at most
bool cublas_gemm_supports(const DeviceWeight& w);
int64_t cublas_gemm_tile_elems(const DeviceWeight& w);
int64_t cublas_gemm_activation_elems(const DeviceWeight& w, int64_t n);
void cublas_gemm(const CublasGemm& g, const DeviceWeight& w, const float* x, int64_t n, float* y, int64_t ldy,
                 const float* bias, cudaStream_t stream);
// gemv or gemm by token count.
void linear(const DeviceWeight& w, const float* x, int64_t n, float* y, int64_t ldy, const float* bias,
            cudaStream_t stream);

// out[t] = row ids[t] of `table` widened to F32, times scale.
void embedding(const DeviceWeight& table, const int32_t* ids, int64_t n, float* out, float scale, cudaStream_t stream);

// out[t] = x[t] / rms(x[t]) * (w or 1 + w); x and out may alias. With q / ds,
// also out's int8 codes as quantize_q8 writes them (dim a multiple of 32).
void rms_norm(const float* x, const float* w, int64_t n, int64_t dim, float eps, bool plus_one, float* out,
              cudaStream_t stream, int8_t* q = nullptr, float2* ds = nullptr);
// x += residual, then rms_norm of the sum (a decoder's residual add and the
// next norm in one kernel; x written back).
void add_rms_norm(float* x, const float* residual, const float* w, int64_t n, int64_t dim, float eps, bool plus_one,
                  float* out, cudaStream_t stream, int8_t* q = nullptr, float2* ds = nullptr);

// table[t] = cos(positions[t] * inv_freq[i]) * attention_scale for the
// rotary_dim / 2 frequencies, then the sines: n rows of rotary_dim floats
// (angles are F32 products, as the reference rounds them).
void rope_table(const int64_t* positions, int64_t n, const float* inv_freq, int64_t rotary_dim,
                float attention_scale, float* table, cudaStream_t stream);
// Rotates the first rotary_dim dims of each head of x [n][heads][head_dim] in
// place with rope_table's table.
void rope(float* x, int64_t n, int64_t heads, int64_t head_dim, int64_t rotary_dim, bool interleaved,
          const float* table, cudaStream_t stream);
// rope of two tensors with the same positions and table in one launch (a
// decoder's q, x_heads per row, and k, y_heads per row).
void rope_pair(float* x, int64_t x_heads, float* y, int64_t y_heads, int64_t n, int64_t head_dim, int64_t rotary_dim,
               bool interleaved, const float* table, cudaStream_t stream);

// One layer of one sequence's paged KV cache on the device (KVLayerView's
// layout; `blocks` is a device array of device block pointers).
struct DeviceKV {
  const uint8_t* const* blocks = nullptr;
  int64_t k_offset = 0, v_offset = 0, block = 0, head_stride = 0, row_bytes = 0;
  int32_t type = 0;  // KVType: 0 f32, 1 f16, 2 q8_0
};

// Writes the K and V rows of n new tokens (positions pos0..pos0+n-1; k and v
// are [n][kv_heads][head_dim] F32) encoded as kv_encode_row does.
void kv_append(const DeviceKV& kv, const float* k, const float* v, int64_t n, int64_t pos0, int64_t kv_heads,
               int64_t head_dim, cudaStream_t stream);

// One sequence of a batched call, in device memory (the backend stages an
// array of them: one launch for every sequence, and a replayed CUDA graph
// reads each step's positions and block tables from there). Attention: a = q;
// KV append: a = k, b = v.
struct DeviceSeq {
  DeviceKV kv;
  const float* a = nullptr;
  const float* b = nullptr;
  float* out = nullptr;
  int64_t n = 0, pos0 = 0;
  // attention_seqs with int8 codes: where this sequence's output starts in
  // the codes buffer (elements; a multiple of 32).
  int64_t code0 = 0;
};
// The decoder's rope of q and k folded into kv_append_seqs (one launch
// instead of two): each key rotated on its way into the cache (and written
// back rotated, as rope would leave it), the queries rotated in place by
// extra blocks. The table's rows follow the tokens of the keys' buffer k:
// the row of the key at k + t * kv_heads * head_dim is t.
struct KVRope {
  const float* table = nullptr;  // null: no rope
  const float* k = nullptr;
  float* q = nullptr;  // n tokens of q_heads heads of head_dim
  int64_t q_heads = 0, n = 0, half = 0;  // half: rotary_dim / 2
  int64_t interleaved = 0;  // 0 / 1; a whole word, so that the struct has no padding (the backend compares its bytes)
};
// kv_append / attention of `count` sequences (seqs: device array), each of at most max_n tokens.
void kv_append_seqs(const DeviceSeq* seqs, int64_t count, int64_t max_n, int64_t kv_heads, int64_t head_dim,
                    cudaStream_t stream, const KVRope& rope = {});

struct DeviceAttention {
  int64_t heads = 0, kv_heads = 0, head_dim = 0;
  float scale = 1, softcap = 0;
  int64_t window = 0;
  const float* sinks = nullptr;  // device, per query head, or null
  // attention_seqs: the KVType of every sequence (the host picks the kernel
  // by it; -1: not all alike, the per-token kernel). attention uses kv.type.
  int32_t kv_type = -1;
};
// Causal (windowed) attention of one sequence's n new tokens over its cache:
// q and out are [n][heads][head_dim]; online softmax over the positions.
// From kFlashMinTokens tokens (max_n for a batch) with F16 / Q8_0 rows and
// head_dim a multiple of 16, on the tensor cores (flash_attention below);
// else attention.cu (a block per token and head, or per token and KV head).
constexpr int64_t kMaxHeadDim = 256;
void attention(const DeviceKV& kv, const float* q, float* out, int64_t n, int64_t pos0, const DeviceAttention& p,
               cudaStream_t stream);
// q / ds (optional, head_dim a multiple of 32, not on the flash path): the
// output's int8 codes as quantize_q8 writes them, each sequence's at its code0,
// for the output projection that reads it next.
void attention_seqs(const DeviceSeq* seqs, int64_t count, int64_t max_n, const DeviceAttention& p, cudaStream_t stream,
                    int8_t* q = nullptr, float2* ds = nullptr);
// Prefill attention on the tensor cores (flash_attention.cu): blocks of 64
// query rows (tokens x the query heads of one kv head) walk the visible
// positions in tiles, Q and P as two F16 parts each (about F32 accuracy), F32
// online softmax. 16 tokens: below that a block's 64 rows are mostly empty
// unless GQA groups are wide, and the kv_heads x tiles blocks are too few to
// fill the GPU, while the per-token kernel spreads each token's positions over
// warps (decode, batched decode, short steps); from 16 on, each K/V row is read
// once per 64 rows instead of once per (token, head).
constexpr int64_t kFlashMinTokens = 16;
bool flash_attention_fits(const DeviceAttention& p, int kv_type, int64_t n);
// seqs: null (one sequence: kv, q, out, n, pos0) or a device array of count
// sequences of at most n tokens each.
void flash_attention(const DeviceKV& kv, const float* q, float* out, int64_t n, int64_t pos0, const DeviceSeq* seqs,
                     int64_t count, const DeviceAttention& p, cudaStream_t stream);

// Elementwise (Activation of compute.hpp: 0 silu, 1 gelu_tanh, 2 swiglu_clamped);
// gated_activation with q / ds writes out's int8 codes too, as quantize_q8 does (count a multiple of 32).
void gated_activation(const float* gate, const float* up, int64_t count, int act, float* out, float limit,
                      cudaStream_t stream, int8_t* q = nullptr, float2* ds = nullptr);
void add(float* y, const float* x, int64_t count, cudaStream_t stream);
void scale(float* x, int64_t count, float factor, cudaStream_t stream);
void softcap(float* x, int64_t count, float cap, cudaStream_t stream);

// MoE: softmax over each token's E router logits, the top k (ties: lowest
// expert first), optionally renormalised: chosen/weights are [n][k].
void moe_route(const float* logits, int64_t n, int64_t experts, int64_t k, bool renormalize, int32_t* chosen,
               float* weights, cudaStream_t stream);
// out[i] = src[rows[i]] (rows of `dim` floats).
void gather_rows(const float* src, const int32_t* rows, int64_t count, int64_t dim, float* out, cudaStream_t stream);
// One expert's outputs into the tokens that chose it: for i < count, with
// slot s = slots[i] (an index into moe_route's tables),
// out[s / top_k] += weights[s] * src[i] (one expert: its tokens are distinct).
void moe_combine(const float* src, const int32_t* slots, int64_t count, int64_t dim, int64_t top_k,
                 const float* weights, float* out, cudaStream_t stream);

}  // namespace allm::cuda
