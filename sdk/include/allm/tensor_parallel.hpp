#pragma once
// How a decoder's weights and work divide over N devices (tensor parallelism
// as Megatron-LM lays it out, and vLLM / TensorRT-LLM run it):
//  - q/k/v and gate/up are column-parallel: each rank holds a slice of their
//    output rows (its attention heads, its MLP columns) and needs no
//    communication to compute them;
//  - o and down are row-parallel: each rank holds the matching slice of their
//    input columns, and the partial outputs are summed by one all-reduce;
//  - the KV cache follows the kv heads (replicated when there are fewer kv
//    heads than ranks, as vLLM does); attention sinks follow the query heads;
//  - embedding and LM head are divided by vocabulary (the embedding's rows are
//    summed by an all-reduce, the logits gathered);
//  - mixture-of-experts layers spread whole experts over the ranks (expert
//    parallelism); the router is replicated and each rank's weighted expert
//    outputs are summed by the same all-reduce as a dense MLP's.
// The plan is pure arithmetic on the model's shapes and storage formats, made
// and checked before any device memory is touched: a split that cannot be
// even (heads over ranks, a quantisation block cut in two) is refused with an
// error that names the tensor and the numbers.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "allm/decoder.hpp"

namespace allm {

struct IndexRange {
  int64_t begin = 0, end = 0;
  int64_t size() const noexcept { return end - begin; }
  bool operator==(const IndexRange&) const = default;
};

enum class ShardSplit : uint8_t {
  replicated,  // every rank holds the whole tensor (norms, the router)
  owned,       // one rank holds it whole (an expert's matrices, expert parallelism)
  output,      // column-parallel: a range of the [out, in] matrix's rows
  input,       // row-parallel: a range of its columns; partial sums all-reduced
};

const char* shard_split_name(ShardSplit s) noexcept;

// One rank's part of one weight. Matrices are named by their role in the
// engine's DecoderWeights ("layers.3.q", "lm_head", "layers.1.experts.7.down"),
// whatever the architecture calls them in its checkpoint (errors name both);
// the F32 vectors too ("layers.3.attn_norm", "layers.3.q_bias", "final_norm"):
// norms and the router bias replicated, q/k/v and gate/up biases, whole-width
// q/k norms and attention sinks following their heads or columns, the bias of
// a row-parallel matrix (o, down) held by rank 0 alone.
struct TensorShard {
  std::string tensor;
  ShardSplit split = ShardSplit::replicated;
  IndexRange range;            // rows (output) or columns (input) this rank holds; all rows otherwise
  std::vector<int64_t> shape;  // the shard's logical shape ({n} for a vector)
  uint64_t bytes = 0;          // what the shard occupies in its stored format (vectors: F32)
  // A row-parallel layer's bias is added once: rank 0 adds it to its partial
  // sum before the all-reduce.
  bool adds_bias = false;
};

enum class Collective : uint8_t { all_reduce_sum, all_gather };

const char* collective_name(Collective c) noexcept;

// One communication step of a forward pass, in execution order.
struct CollectivePoint {
  int64_t layer = -1;          // -1: before the first / after the last layer
  std::string after;           // what it follows, e.g. "attention output projection (before post_attn_norm)"
  Collective op = Collective::all_reduce_sum;
  int64_t values_per_token = 0;  // F32 values each rank contributes per token
};

struct RankShards {
  int rank = 0;
  IndexRange q_heads, kv_heads, intermediate, vocab;
  IndexRange experts;               // the MoE experts this rank runs (whole); empty for dense models
  std::vector<TensorShard> tensors;
  uint64_t weight_bytes = 0;        // sum of the shards
  int64_t kv_values_per_position = 0;  // keys and values, all layers, of this rank's kv heads
};

struct TensorParallelPlan {
  int world = 1;
  std::vector<RankShards> ranks;
  std::vector<CollectivePoint> collectives;  // one forward pass, in order
};

// Throws InvalidArgumentError when the model cannot be divided over `world`
// ranks (uneven heads, MLP width or vocabulary blocks, a quantisation block or
// an interleaved panel cut in two, fewer experts than ranks).
// The error names the model (spec.model_type), the rank count and the numbers.
TensorParallelPlan plan_tensor_parallel(const DecoderSpec& spec, const DecoderWeights& weights, int world);

// A matrix shard's bytes in the stored format, as a rank would upload them:
// output rows are a view of `t` (slice_rows), input columns are copied row by
// row (whole GGUF blocks, MLX groups with their scales and biases) into
// memory appended to `owned`; a replicated or owned shard is `t` itself. The
// result's bytes (codes plus MLX scales/biases) are the shard's `bytes`.
// Columns of an interleaved layout (Q4_K_X16, ...) are refused: plan on
// describe_decoder's stored layout.
Tensor shard_tensor(const Tensor& t, const TensorShard& shard, std::vector<std::shared_ptr<const void>>& owned);

}  // namespace allm
