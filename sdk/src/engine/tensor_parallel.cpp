// The tensor-parallel sharding plan (see tensor_parallel.hpp): which slice of
// every weight each rank holds, and where the ranks communicate.
#include "allm/tensor_parallel.hpp"

#include <algorithm>
#include <cstring>
#include <string>

#include "allm/error.hpp"
#include "allm/weight_format.hpp"

namespace allm {
namespace {

[[noreturn]] void refuse(const std::string& why) { throw InvalidArgumentError(why); }

std::string count(int64_t n, const char* what) { return std::to_string(n) + " " + what; }

// Equal ranges of `total` over `world` ranks; `what` names the quantity when
// it does not divide.
IndexRange even_share(int64_t total, int world, int rank, const std::string& what) {
  if (total % world != 0)
    refuse(what + " (" + std::to_string(total) + ") cannot be divided evenly over " + count(world, "ranks"));
  const int64_t part = total / world;
  return {rank * part, (rank + 1) * part};
}

// The storage granule a column range must respect: a GGUF block or an MLX
// quantisation group (a row-parallel shard may not cut one in two).
int64_t column_granule(const Tensor& t) {
  if (t.dtype == DType::MLX_AFFINE) return t.group_size;
  return static_cast<int64_t>(dtype_block_elems(t.dtype));
}

// Interleaved layouts (sdk/src/gguf/interleave.hpp) store panels of 16 rows.
int64_t row_granule(const Tensor& t) {
  switch (t.dtype) {
    case DType::Q4_0_X16:
    case DType::Q4_K_X16:
    case DType::Q6_K_X16:
    case DType::Q8_0_X16:
      return 16;
    default:
      return 1;
  }
}

uint64_t stored_bytes(const Tensor& t) {
  uint64_t b = t.nbytes;
  if (t.dtype == DType::MLX_AFFINE)  // one scale (and bias, when stored) per group of every row
    b += (t.biases ? 2u : 1u) * static_cast<uint64_t>(t.rows() * (t.cols() / t.group_size)) *
         (t.scale_dtype == DType::F32 ? 4 : 2);
  return b;
}

class Planner {
 public:
  Planner(const DecoderSpec& s, const DecoderWeights& w, int world) : s_(s), w_(w), world_(world) {}

  TensorParallelPlan plan() {
    if (world_ < 1) refuse("the number of ranks must be at least 1, got " + std::to_string(world_));
    TensorParallelPlan plan;
    plan.world = world_;
    for (int r = 0; r < world_; ++r) plan.ranks.push_back(rank_shards(r));
    if (world_ > 1) plan.collectives = collectives();
    return plan;
  }

 private:
  RankShards rank_shards(int r) {
    RankShards rs;
    rs.rank = r;
    rs.q_heads = even_share(s_.heads, world_, r, "the query heads");
    rs.kv_heads = kv_share(r);
    check_heads_meet(rs);
    rs.vocab = vocab_share(r);
    if (has_dense_mlp()) rs.intermediate = even_share(dense_width(), world_, r, "the MLP width (intermediate_size)");
    if (s_.moe.experts > 0) rs.experts = expert_share(r);

    const int64_t D = s_.head_dim;
    const IndexRange q_rows{rs.q_heads.begin * D, rs.q_heads.end * D};
    const IndexRange kv_rows{rs.kv_heads.begin * D, rs.kv_heads.end * D};
    out_ = &rs.tensors;
    rows(w_.embed, "embed", rs.vocab);
    if (w_.lm_head.valid() && w_.lm_head.data != w_.embed.data) rows(w_.lm_head, "lm_head", rs.vocab);
    whole(w_.final_norm, "final_norm");
    for (int64_t i = 0; i < s_.layers; ++i) {
      const LayerWeights& l = w_.layers[static_cast<size_t>(i)];
      const std::string at = "layers." + std::to_string(i) + ".";
      whole(l.attn_norm, at + "attn_norm");
      rows(l.q, at + "q", q_rows);
      rows(l.k, at + "k", kv_rows);
      rows(l.v, at + "v", kv_rows);
      part(l.q_bias, at + "q_bias", q_rows);
      part(l.k_bias, at + "k_bias", kv_rows);
      part(l.v_bias, at + "v_bias", kv_rows);
      if (s_.qk_norm_whole_width) {  // one weight per projected value: follows the heads
        part(l.q_norm, at + "q_norm", q_rows);
        part(l.k_norm, at + "k_norm", kv_rows);
      } else {  // one head's worth, the same for every head
        whole(l.q_norm, at + "q_norm");
        whole(l.k_norm, at + "k_norm");
      }
      part(l.sinks, at + "sinks", rs.q_heads);
      cols(l.o, at + "o", q_rows, r == 0 && !l.o_bias.empty());
      if (r == 0) owned(l.o_bias, at + "o_bias");  // added into rank 0's partial sum: counted once
      whole(l.post_attn_norm, at + "post_attn_norm");
      whole(l.ffn_norm, at + "ffn_norm");
      if (s_.layer[static_cast<size_t>(i)].moe) {
        whole(l.router, at + "router");
        whole(l.router_bias, at + "router_bias");
        for (int64_t e = rs.experts.begin; e < rs.experts.end; ++e) {
          const ExpertWeights& ex = l.experts[static_cast<size_t>(e)];
          const std::string ep = at + "experts." + std::to_string(e) + ".";
          owned(ex.gate, ep + "gate");
          owned(ex.up, ep + "up");
          owned(ex.down, ep + "down");
          owned(ex.gate_bias, ep + "gate_bias");
          owned(ex.up_bias, ep + "up_bias");
          owned(ex.down_bias, ep + "down_bias");
        }
      } else {
        rows(l.gate, at + "gate", rs.intermediate);
        rows(l.up, at + "up", rs.intermediate);
        part(l.gate_bias, at + "gate_bias", rs.intermediate);
        part(l.up_bias, at + "up_bias", rs.intermediate);
        cols(l.down, at + "down", rs.intermediate, r == 0 && !l.down_bias.empty());
        if (r == 0) owned(l.down_bias, at + "down_bias");
      }
      whole(l.post_ffn_norm, at + "post_ffn_norm");
    }
    for (const TensorShard& t : rs.tensors) rs.weight_bytes += t.bytes;
    rs.kv_values_per_position = s_.layers * 2 * rs.kv_heads.size() * D;
    return rs;
  }

  // kv heads split when they divide; replicated (each on world/kv ranks) when
  // the ranks are a multiple of them, as vLLM does for GQA models.
  IndexRange kv_share(int r) const {
    const int64_t kv = s_.kv_heads;
    if (kv % world_ == 0) return even_share(kv, world_, r, "the kv heads");
    if (world_ % kv == 0) {
      if (s_.qk_norm_whole_width)
        refuse("a key norm over the whole projected width needs the kv heads (" + std::to_string(kv) +
               ") divided, not replicated, over " + count(world_, "ranks"));
      const int64_t head = r / (world_ / kv);
      return {head, head + 1};
    }
    refuse(count(kv, "kv heads") + " can neither be divided over nor replicated on " + count(world_, "ranks") +
           " (the ranks must divide them or be a multiple of them)");
  }

  // Every query head a rank computes must find its kv head on the same rank.
  void check_heads_meet(const RankShards& rs) const {
    const int64_t group = s_.heads / s_.kv_heads;
    const int64_t first = rs.q_heads.begin / group, last = (rs.q_heads.end - 1) / group;
    if (first < rs.kv_heads.begin || last >= rs.kv_heads.end)
      refuse("rank " + std::to_string(rs.rank) + "'s query heads [" + std::to_string(rs.q_heads.begin) + ", " +
             std::to_string(rs.q_heads.end) + ") use kv heads [" + std::to_string(first) + ", " +
             std::to_string(last + 1) + ") but it holds [" + std::to_string(rs.kv_heads.begin) + ", " +
             std::to_string(rs.kv_heads.end) + ")");
  }

  // Vocabulary rows in equal chunks (the last may be shorter), whole panels.
  IndexRange vocab_share(int r) const {
    int64_t granule = row_granule(w_.embed);
    if (w_.lm_head.valid()) granule = std::max(granule, row_granule(w_.lm_head));
    const int64_t per_rank = (s_.vocab + world_ - 1) / world_;
    const int64_t chunk = (per_rank + granule - 1) / granule * granule;
    if (chunk * (world_ - 1) >= s_.vocab)
      refuse("the vocabulary (" + std::to_string(s_.vocab) + " rows) is too small for " + count(world_, "ranks"));
    return {std::min<int64_t>(r * chunk, s_.vocab), std::min<int64_t>((r + 1) * chunk, s_.vocab)};
  }

  // Experts in contiguous runs whose sizes differ by at most one.
  IndexRange expert_share(int r) const {
    const int64_t E = s_.moe.experts;
    if (E < world_) refuse(count(E, "experts") + " cannot be spread over " + count(world_, "ranks"));
    const int64_t base = E / world_, extra = E % world_;
    const int64_t begin = r * base + std::min<int64_t>(r, extra);
    return {begin, begin + base + (r < extra ? 1 : 0)};
  }

  bool has_dense_mlp() const {
    for (const LayerSpec& ls : s_.layer)
      if (!ls.moe) return true;
    return false;
  }

  int64_t dense_width() const {
    for (size_t i = 0; i < s_.layer.size(); ++i)
      if (!s_.layer[i].moe) return w_.layers[i].gate.rows();
    return 0;
  }

  std::string label(const Tensor& t, const std::string& role) const {
    return t.name.empty() ? role : role + " (" + t.name + ")";
  }

  // Column-parallel: output rows [range).
  void rows(const Tensor& t, const std::string& role, IndexRange range) {
    if (!t.valid()) return;
    const int64_t granule = row_granule(t);
    if (range.begin % granule || range.size() % granule)
      refuse(label(t, role) + ": rows [" + std::to_string(range.begin) + ", " + std::to_string(range.end) +
             ") cut its " + std::to_string(granule) + "-row panels");
    const uint64_t bytes = stored_bytes(t) * static_cast<uint64_t>(range.size()) / static_cast<uint64_t>(t.rows());
    out_->push_back({role, ShardSplit::output, range, {range.size(), t.cols()}, bytes, false});
  }

  // Row-parallel: input columns [range); partial outputs summed across ranks.
  void cols(const Tensor& t, const std::string& role, IndexRange range, bool adds_bias) {
    if (!t.valid()) return;
    const int64_t granule = column_granule(t);
    if (granule > 1 && (range.begin % granule || range.size() % granule))
      refuse(label(t, role) + ": its " + std::to_string(range.size()) + "-column shard would cut " +
             dtype_name(t.dtype) + (t.dtype == DType::MLX_AFFINE ? " groups of " : " blocks of ") +
             std::to_string(granule) + " values");
    const uint64_t bytes = stored_bytes(t) * static_cast<uint64_t>(range.size()) / static_cast<uint64_t>(t.cols());
    out_->push_back({role, ShardSplit::input, range, {t.rows(), range.size()}, bytes, adds_bias});
  }

  // F32 vectors (norm weights, biases, sinks), as the decoder holds them.
  void whole(const std::vector<float>& v, const std::string& role) { keep(v, role, ShardSplit::replicated); }
  void owned(const std::vector<float>& v, const std::string& role) { keep(v, role, ShardSplit::owned); }
  void keep(const std::vector<float>& v, const std::string& role, ShardSplit split) {
    if (v.empty()) return;
    const auto n = static_cast<int64_t>(v.size());
    out_->push_back({role, split, {0, n}, {n}, static_cast<uint64_t>(n) * sizeof(float), false});
  }
  // The elements [range) of a vector that follows a split (a bias of q/k/v or
  // gate/up, a whole-width norm, the sinks of the query heads).
  void part(const std::vector<float>& v, const std::string& role, IndexRange range) {
    if (v.empty()) return;
    out_->push_back({role, ShardSplit::output, range, {range.size()}, static_cast<uint64_t>(range.size()) * sizeof(float),
                     false});
  }

  void whole(const Tensor& t, const std::string& role) { keep(t, role, ShardSplit::replicated); }
  void owned(const Tensor& t, const std::string& role) { keep(t, role, ShardSplit::owned); }

  void keep(const Tensor& t, const std::string& role, ShardSplit split) {
    if (!t.valid()) return;
    out_->push_back({role, split, {0, t.rows()}, {t.rows(), t.cols()}, stored_bytes(t), false});
  }

  std::vector<CollectivePoint> collectives() const {
    std::vector<CollectivePoint> c;
    const int64_t H = s_.hidden;
    c.push_back({-1, "token embedding (each rank looks up the ids of its vocabulary rows)", Collective::all_reduce_sum,
                 H});
    for (int64_t i = 0; i < s_.layers; ++i) {
      const LayerWeights& l = w_.layers[static_cast<size_t>(i)];
      if (!l.q_norm.empty() && s_.qk_norm_whole_width)
        c.push_back({i, "q/k projections: sums of squares for the whole-width q/k norms", Collective::all_reduce_sum, 2});
      c.push_back({i, "attention output projection (before any post-attention norm)", Collective::all_reduce_sum, H});
      c.push_back({i,
                   s_.layer[static_cast<size_t>(i)].moe ? "weighted expert outputs (before any post-MLP norm)"
                                                        : "MLP down projection (before any post-MLP norm)",
                   Collective::all_reduce_sum, H});
    }
    const int64_t chunk = vocab_share(0).size();
    c.push_back({-1, "LM head (each rank's vocabulary slice of the logits)", Collective::all_gather, chunk});
    return c;
  }

  const DecoderSpec& s_;
  const DecoderWeights& w_;
  const int world_;
  std::vector<TensorShard>* out_ = nullptr;
};

}  // namespace

const char* shard_split_name(ShardSplit s) noexcept {
  switch (s) {
    case ShardSplit::replicated: return "replicated";
    case ShardSplit::owned: return "owned";
    case ShardSplit::output: return "output rows";
    case ShardSplit::input: return "input columns";
  }
  return "?";
}

const char* collective_name(Collective c) noexcept {
  return c == Collective::all_reduce_sum ? "all-reduce (sum)" : "all-gather";
}

TensorParallelPlan plan_tensor_parallel(const DecoderSpec& spec, const DecoderWeights& weights, int world) {
  try {
    if (static_cast<int64_t>(weights.layers.size()) != spec.layers ||
        static_cast<int64_t>(spec.layer.size()) != spec.layers)
      refuse("the weights' layer count does not match the model's");
    if (spec.heads <= 0 || spec.kv_heads <= 0 || spec.heads % spec.kv_heads != 0)
      refuse(count(spec.heads, "query heads") + " and " + count(spec.kv_heads, "kv heads") + " are not a GQA layout");
    return Planner(spec, weights, world).plan();
  } catch (const InvalidArgumentError& e) {  // every refusal names the model and the rank count
    throw InvalidArgumentError("tensor parallelism over " + count(world, world == 1 ? "rank" : "ranks") + ": " +
                               (spec.model_type.empty() ? std::string("the") : spec.model_type) + " model: " + e.what());
  }
}

Tensor shard_tensor(const Tensor& t, const TensorShard& shard, std::vector<std::shared_ptr<const void>>& owned) {
  if (shard.split == ShardSplit::replicated || shard.split == ShardSplit::owned) return t;
  if (t.shape.size() != 2 || shard.range.begin < 0 || shard.range.begin > shard.range.end)
    throw InvalidArgumentError(shard.tensor + ": not a matrix shard");
  if (shard.split == ShardSplit::output) return slice_rows(t, shard.range.begin, shard.range.size());
  // Input columns: each row's bytes of whole blocks / groups, copied.
  if (is_interleaved(t.dtype))
    throw UnsupportedError(shard.tensor + " (" + t.name + "): columns of the interleaved " + dtype_name(t.dtype) +
                           " layout cannot be taken; describe the model (describe_decoder) to keep its stored layout");
  const int64_t granule = column_granule(t), c0 = shard.range.begin, c1 = shard.range.end;
  if (shard.range.end > t.cols() || (granule > 1 && (c0 % granule || c1 % granule)))
    throw InvalidArgumentError(shard.tensor + " (" + t.name + "): columns [" + std::to_string(c0) + ", " +
                               std::to_string(c1) + ") do not fall on its " + dtype_name(t.dtype) + " blocks");
  // [begin, end) bytes of each row for columns [c0, c1) at `bits_per_value`
  // (block formats: whole blocks), rows `stride` bytes apart.
  const int64_t rows = t.rows();
  auto copy = [&](const void* base, uint64_t stride, uint64_t begin, uint64_t end) -> const void* {
    if (!base) return nullptr;
    auto bytes = std::shared_ptr<uint8_t[]>(new uint8_t[static_cast<size_t>(rows) * (end - begin)]);
    for (int64_t r = 0; r < rows; ++r)
      std::memcpy(bytes.get() + static_cast<uint64_t>(r) * (end - begin),
                  static_cast<const uint8_t*>(base) + static_cast<uint64_t>(r) * stride + begin, end - begin);
    owned.push_back(bytes);
    return bytes.get();
  };
  Tensor out = t;
  out.shape = {rows, c1 - c0};
  if (t.dtype == DType::MLX_AFFINE) {
    const uint64_t bits = static_cast<uint64_t>(t.bits);
    out.data = copy(t.data, static_cast<uint64_t>(t.cols()) * bits / 8, static_cast<uint64_t>(c0) * bits / 8,
                    static_cast<uint64_t>(c1) * bits / 8);
    const uint64_t sb = t.scale_dtype == DType::F32 ? 4 : 2, groups = static_cast<uint64_t>(t.cols() / t.group_size);
    const uint64_t g0 = static_cast<uint64_t>(c0 / t.group_size) * sb, g1 = static_cast<uint64_t>(c1 / t.group_size) * sb;
    out.scales = copy(t.scales, groups * sb, g0, g1);
    out.biases = copy(t.biases, groups * sb, g0, g1);
  } else {
    const uint64_t per_row = row_bytes(t), cols = static_cast<uint64_t>(t.cols());
    out.data = copy(t.data, per_row, per_row * static_cast<uint64_t>(c0) / cols, per_row * static_cast<uint64_t>(c1) / cols);
  }
  out.nbytes = static_cast<size_t>(static_cast<uint64_t>(rows) * row_bytes(out));
  return out;
}

}  // namespace allm
