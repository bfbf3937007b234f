// The tensor-parallel sharding plan: every weight's shards cover it exactly
// once (or it is replicated / owned whole), each rank's query heads meet their
// kv heads, the bytes add up, and splits that cannot be even are refused by
// name. Shapes are the real models' (Llama 3.1 8B/70B, Qwen3, gpt-oss, OLMo 2).
#include <gtest/gtest.h>

#include <cstring>
#include <deque>
#include <map>
#include <random>

#include "allm/error.hpp"
#include "allm/tensor_parallel.hpp"

namespace allm {
namespace {

// Stand-ins for mapped bytes, one distinct address per tensor (a tied LM head
// is recognised by sharing its embedding's): the plan reads shapes and formats only.
const void* fake_bytes() {
  static std::deque<char> storage;
  storage.push_back(0);
  return &storage.back();
}

Tensor matrix(const std::string& name, int64_t rows, int64_t cols, DType dtype) {
  Tensor t;
  t.name = name;
  t.dtype = dtype;
  t.shape = {rows, cols};
  t.data = fake_bytes();
  if (dtype == DType::MLX_AFFINE) {
    t.bits = 4;
    t.group_size = 64;
    t.nbytes = static_cast<size_t>(rows * cols / 8);
  } else if (dtype_block_elems(dtype) > 1) {
    t.nbytes = static_cast<size_t>(rows * (cols / static_cast<int64_t>(dtype_block_elems(dtype))) *
                                   static_cast<int64_t>(dtype_block_bytes(dtype)));
  } else {
    t.nbytes = static_cast<size_t>(rows * cols) * dtype_size(dtype);
  }
  return t;
}

struct Shape {
  int64_t hidden, inter, layers, heads, kv_heads, head_dim, vocab;
  int64_t experts = 0, top_k = 0;
  bool whole_width_qk_norm = false;
  bool tied = false;
  bool biases = false;  // q/k/v/o biases, attention sinks, router and expert biases (gpt-oss)
};

struct Model {
  DecoderSpec spec;
  DecoderWeights weights;
};

Model make_model(const Shape& m, DType dtype) {
  Model model;
  DecoderSpec& s = model.spec;
  s.model_type = "test";
  s.hidden = m.hidden;
  s.intermediate = m.inter;
  s.layers = m.layers;
  s.heads = m.heads;
  s.kv_heads = m.kv_heads;
  s.head_dim = m.head_dim;
  s.vocab = m.vocab;
  s.qk_norm_whole_width = m.whole_width_qk_norm;
  s.moe = {m.experts, m.top_k, true};
  s.ropes.resize(1);
  DecoderWeights& w = model.weights;
  w.embed = matrix("token_embd.weight", m.vocab, m.hidden, dtype);
  w.lm_head = m.tied ? w.embed : matrix("output.weight", m.vocab, m.hidden, dtype);
  w.final_norm.assign(static_cast<size_t>(m.hidden), 1.0f);
  const int64_t q = m.heads * m.head_dim, kv = m.kv_heads * m.head_dim;
  for (int64_t i = 0; i < m.layers; ++i) {
    s.layer.push_back(LayerSpec{0, 0, true, m.experts > 0});
    LayerWeights l;
    const std::string p = "blk." + std::to_string(i) + ".";
    l.q = matrix(p + "attn_q.weight", q, m.hidden, dtype);
    l.k = matrix(p + "attn_k.weight", kv, m.hidden, dtype);
    l.v = matrix(p + "attn_v.weight", kv, m.hidden, dtype);
    l.o = matrix(p + "attn_output.weight", m.hidden, q, dtype);
    l.attn_norm.assign(static_cast<size_t>(m.hidden), 1.0f);
    l.ffn_norm.assign(static_cast<size_t>(m.hidden), 1.0f);
    if (m.biases) {
      l.q_bias.assign(static_cast<size_t>(q), 0.5f);
      l.k_bias.assign(static_cast<size_t>(kv), 0.5f);
      l.v_bias.assign(static_cast<size_t>(kv), 0.5f);
      l.o_bias.assign(static_cast<size_t>(m.hidden), 0.5f);
      l.sinks.assign(static_cast<size_t>(m.heads), 0.5f);
      if (m.experts > 0) l.router_bias.assign(static_cast<size_t>(m.experts), 0.5f);
    }
    if (m.whole_width_qk_norm) {
      l.q_norm.assign(static_cast<size_t>(q), 1.0f);
      l.k_norm.assign(static_cast<size_t>(kv), 1.0f);
    }
    if (m.experts > 0) {
      l.router = matrix(p + "ffn_gate_inp.weight", m.experts, m.hidden, DType::F32);
      for (int64_t e = 0; e < m.experts; ++e) {
        l.experts.push_back({matrix(p + "e" + std::to_string(e) + ".gate", m.inter, m.hidden, dtype),
                             matrix(p + "e" + std::to_string(e) + ".up", m.inter, m.hidden, dtype),
                             matrix(p + "e" + std::to_string(e) + ".down", m.hidden, m.inter, dtype)});
        if (m.biases) {
          l.experts.back().gate_bias.assign(static_cast<size_t>(m.inter), 0.5f);
          l.experts.back().up_bias.assign(static_cast<size_t>(m.inter), 0.5f);
          l.experts.back().down_bias.assign(static_cast<size_t>(m.hidden), 0.5f);
        }
      }
    } else {
      l.gate = matrix(p + "ffn_gate.weight", m.inter, m.hidden, dtype);
      l.up = matrix(p + "ffn_up.weight", m.inter, m.hidden, dtype);
      l.down = matrix(p + "ffn_down.weight", m.hidden, m.inter, dtype);
    }
    w.layers.push_back(std::move(l));
  }
  return model;
}

const Shape kLlama8B{4096, 14336, 32, 32, 8, 128, 128256};
const Shape kLlama70B{8192, 28672, 80, 64, 8, 128, 128256};
const Shape kQwen3_0_6B{1024, 3072, 28, 16, 8, 128, 151936, 0, 0, false, true};
const Shape kGptOss20B{2880, 2880, 24, 64, 8, 64, 201088, 32, 4, false, false, true};
const Shape kQwen3_30B_A3B{2048, 768, 48, 32, 4, 128, 151936, 128, 8};
const Shape kOlmo2_1B{2048, 8192, 16, 16, 16, 128, 100352, 0, 0, true};

// Every tensor of the model: its shards over all ranks either partition its
// rows or columns exactly, or each rank keeps it whole (replicated), or one
// rank alone keeps it whole (owned); the shards' bytes add up to the tensor's.
void expect_partition(const Model& m, const TensorParallelPlan& plan) {
  struct Seen {
    std::vector<IndexRange> ranges;
    ShardSplit split = ShardSplit::replicated;
    int holders = 0;
    std::vector<int64_t> full;
    uint64_t bytes = 0;
  };
  std::map<std::string, Seen> seen;
  for (const RankShards& r : plan.ranks)
    for (const TensorShard& t : r.tensors) {
      Seen& s = seen[t.tensor];
      s.split = t.split;
      s.ranges.push_back(t.range);
      s.holders++;
      s.bytes += t.bytes;
    }
  for (auto& [name, s] : seen) {
    SCOPED_TRACE(name);
    switch (s.split) {
      case ShardSplit::replicated:
        EXPECT_EQ(s.holders, plan.world);
        break;
      case ShardSplit::owned:
        EXPECT_EQ(s.holders, 1);
        break;
      case ShardSplit::output:
      case ShardSplit::input: {
        EXPECT_EQ(s.holders, plan.world);
        // Consecutive ranks may share a range (kv heads replicated over them).
        int64_t next = 0;
        for (size_t i = 0; i < s.ranges.size(); ++i) {
          if (i > 0 && s.ranges[i] == s.ranges[i - 1]) continue;
          EXPECT_EQ(s.ranges[i].begin, next);
          next = s.ranges[i].end;
        }
        break;
      }
    }
  }
  // Weight bytes: every tensor counted once, the replicated ones (norms, the
  // router and its bias) on every rank, the F32 vectors at 4 bytes a value.
  uint64_t model_bytes = 0, replicated = 0, planned = 0, kv_bytes = 0;
  auto add = [&](const Tensor& t) { model_bytes += t.valid() ? t.nbytes : 0; };
  auto f32 = [](const std::vector<float>& v) { return static_cast<uint64_t>(v.size()) * 4; };
  add(m.weights.embed);
  if (m.weights.lm_head.data != m.weights.embed.data) add(m.weights.lm_head);
  replicated += f32(m.weights.final_norm);
  for (const LayerWeights& l : m.weights.layers) {
    for (const Tensor* t : {&l.q, &l.k, &l.v, &l.o, &l.gate, &l.up, &l.down}) add(*t);
    for (const ExpertWeights& e : l.experts) {
      add(e.gate), add(e.up), add(e.down);
      model_bytes += f32(e.gate_bias) + f32(e.up_bias) + f32(e.down_bias);
    }
    if (l.router.valid()) replicated += l.router.nbytes;
    replicated += f32(l.attn_norm) + f32(l.ffn_norm) + f32(l.router_bias);
    model_bytes += f32(l.q_bias) + f32(l.o_bias) + f32(l.sinks) + f32(l.q_norm);
    model_bytes += f32(l.k_bias) + f32(l.v_bias) + f32(l.k_norm);
    kv_bytes += l.k.nbytes + l.v.nbytes + f32(l.k_bias) + f32(l.v_bias) + f32(l.k_norm);
  }
  for (const RankShards& r : plan.ranks) planned += r.weight_bytes;
  // kv heads replicated over ranks count once per holder.
  const int64_t kv_copies = plan.world > m.spec.kv_heads ? plan.world / m.spec.kv_heads : 1;
  EXPECT_EQ(planned, model_bytes + replicated * static_cast<uint64_t>(plan.world) +
                         kv_bytes * static_cast<uint64_t>(kv_copies - 1));
}

void expect_heads_meet(const DecoderSpec& s, const TensorParallelPlan& plan) {
  const int64_t group = s.heads / s.kv_heads;
  for (const RankShards& r : plan.ranks)
    for (int64_t h = r.q_heads.begin; h < r.q_heads.end; ++h) {
      EXPECT_GE(h / group, r.kv_heads.begin) << "rank " << r.rank << " head " << h;
      EXPECT_LT(h / group, r.kv_heads.end) << "rank " << r.rank << " head " << h;
    }
}

const TensorShard& shard(const RankShards& r, const std::string& name) {
  for (const TensorShard& t : r.tensors)
    if (t.tensor == name) return t;
  throw std::runtime_error("no shard " + name);
}

TEST(TensorParallel, Llama70BOverTwoFourEightRanks) {
  const Model m = make_model(kLlama70B, DType::Q4_K);
  for (int world : {1, 2, 4, 8}) {
    SCOPED_TRACE(world);
    const TensorParallelPlan plan = plan_tensor_parallel(m.spec, m.weights, world);
    ASSERT_EQ(static_cast<int>(plan.ranks.size()), world);
    expect_partition(m, plan);
    expect_heads_meet(m.spec, plan);
    const RankShards& last = plan.ranks.back();
    EXPECT_EQ(last.q_heads.size(), 64 / world);
    EXPECT_EQ(last.kv_heads.size(), 8 / world);
    EXPECT_EQ(last.intermediate.size(), 28672 / world);
    EXPECT_EQ(shard(last, "layers.79.down").shape, (std::vector<int64_t>{8192, 28672 / world}));
    EXPECT_EQ(shard(last, "layers.0.q").shape, (std::vector<int64_t>{64 / world * 128, 8192}));
    EXPECT_EQ(last.kv_values_per_position, 80 * 2 * (8 / world) * 128);
    // One all-reduce after each layer's attention and MLP, the embedding's, the logits' gather.
    EXPECT_EQ(plan.collectives.size(), world == 1 ? 0u : 80u * 2 + 2);
  }
}

// The figures docs/multi-gpu.md quotes: Llama 3.1 70B in BF16 per device.
TEST(TensorParallel, Llama70BBytesPerDeviceInBf16) {
  const Model m = make_model(kLlama70B, DType::BF16);
  const uint64_t H = 8192, layer = H * 8192 * 2 + 1024 * H * 2 + 28672 * H * 3, norms = (2 * H * 80 + H) * 4;
  for (uint64_t world : {1, 2, 4, 8}) {
    SCOPED_TRACE(world);
    const TensorParallelPlan plan = plan_tensor_parallel(m.spec, m.weights, static_cast<int>(world));
    for (const RankShards& r : plan.ranks) {
      EXPECT_EQ(r.weight_bytes, (layer * 80 / world + 2 * (128256 / world) * H) * 2 + norms);
      EXPECT_EQ(r.kv_values_per_position * 2, static_cast<int64_t>(80 * 2 * (8 / world) * 128 * 2));  // F16 bytes
    }
  }
  // 65.71 GiB per device over 2, 32.86 GiB over 4.
  EXPECT_NEAR(double(plan_tensor_parallel(m.spec, m.weights, 2).ranks[0].weight_bytes) / double(1ull << 30), 65.71, 0.005);
  EXPECT_NEAR(double(plan_tensor_parallel(m.spec, m.weights, 4).ranks[0].weight_bytes) / double(1ull << 30), 32.86, 0.005);
}

TEST(TensorParallel, KvHeadsReplicatedWhenFewerThanRanks) {
  const Model m = make_model(kLlama8B, DType::F16);
  const TensorParallelPlan plan = plan_tensor_parallel(m.spec, m.weights, 16);
  expect_heads_meet(m.spec, plan);
  expect_partition(m, plan);
  for (const RankShards& r : plan.ranks) {
    EXPECT_EQ(r.kv_heads, (IndexRange{r.rank / 2, r.rank / 2 + 1}));
    EXPECT_EQ(r.q_heads.size(), 2);
  }
}

TEST(TensorParallel, VocabularyInChunksWithAShorterLast) {
  const Model m = make_model(kQwen3_0_6B, DType::BF16);
  const TensorParallelPlan plan = plan_tensor_parallel(m.spec, m.weights, 8);
  expect_partition(m, plan);
  EXPECT_EQ(plan.ranks[0].vocab, (IndexRange{0, 18992}));
  EXPECT_EQ(plan.ranks[7].vocab, (IndexRange{7 * 18992, 151936}));
  // Tied: the one table appears once per rank, as the embedding.
  for (const RankShards& r : plan.ranks) EXPECT_THROW(shard(r, "lm_head"), std::runtime_error);
}

TEST(TensorParallel, ExpertsSpreadWhole) {
  Shape shape = kGptOss20B;
  shape.experts = 30;  // over 4 ranks: 8, 8, 7, 7
  const Model m = make_model(shape, DType::MXFP4);
  const TensorParallelPlan plan = plan_tensor_parallel(m.spec, m.weights, 4);
  expect_partition(m, plan);
  EXPECT_EQ(plan.ranks[0].experts, (IndexRange{0, 8}));
  EXPECT_EQ(plan.ranks[1].experts, (IndexRange{8, 16}));
  EXPECT_EQ(plan.ranks[2].experts, (IndexRange{16, 23}));
  EXPECT_EQ(plan.ranks[3].experts, (IndexRange{23, 30}));
  EXPECT_EQ(shard(plan.ranks[3], "layers.5.experts.29.down").split, ShardSplit::owned);
  EXPECT_THROW(shard(plan.ranks[2], "layers.5.experts.29.down"), std::runtime_error);
  EXPECT_EQ(shard(plan.ranks[1], "layers.5.router").split, ShardSplit::replicated);
  EXPECT_EQ(plan.collectives[2].after.rfind("weighted expert outputs", 0), 0u);
}

TEST(TensorParallel, WholeWidthQkNormAddsItsAllReduce) {
  const Model m = make_model(kOlmo2_1B, DType::F32);
  const TensorParallelPlan plan = plan_tensor_parallel(m.spec, m.weights, 4);
  expect_partition(m, plan);
  ASSERT_EQ(plan.collectives.size(), 16u * 3 + 2);
  EXPECT_EQ(plan.collectives[1].values_per_token, 2);
  EXPECT_EQ(plan.collectives[1].layer, 0);
}

std::string refusal(const Shape& shape, DType dtype, int world) {
  const Model m = make_model(shape, dtype);
  try {
    plan_tensor_parallel(m.spec, m.weights, world);
  } catch (const InvalidArgumentError& e) {
    return e.what();
  }
  return "(accepted)";
}

TEST(TensorParallel, UnevenSplitsRefusedByName) {
  EXPECT_NE(refusal(kLlama8B, DType::F16, 3).find("query heads (32) cannot be divided evenly over 3 ranks"),
            std::string::npos);
  Shape odd_kv = kLlama8B;
  odd_kv.heads = 24, odd_kv.kv_heads = 6;
  EXPECT_NE(refusal(odd_kv, DType::F16, 4).find("6 kv heads can neither be divided over nor replicated on 4 ranks"),
            std::string::npos);
  // Llama 2 7B's MLP width over 8 ranks: 1376 columns of down cut 256-value Q4_K blocks.
  Shape llama2{4096, 11008, 2, 32, 32, 128, 32000};
  const std::string cut = refusal(llama2, DType::Q4_K, 8);
  EXPECT_NE(cut.find("layers.0.down (blk.0.ffn_down.weight)"), std::string::npos) << cut;
  EXPECT_NE(cut.find("Q4_K blocks of 256 values"), std::string::npos) << cut;
  EXPECT_EQ(refusal(llama2, DType::F16, 8), "(accepted)");
  Shape olmo = kOlmo2_1B;
  olmo.kv_heads = 2, olmo.heads = 16;
  EXPECT_NE(refusal(olmo, DType::F32, 4).find("whole projected width"), std::string::npos);
  EXPECT_NE(refusal(kLlama8B, DType::F16, 0).find("at least 1"), std::string::npos);
  Shape moe = kGptOss20B;
  moe.experts = 4, moe.top_k = 2;
  EXPECT_NE(refusal(moe, DType::MXFP4, 8).find("4 experts cannot be spread over 8 ranks"), std::string::npos);
  Shape odd_mlp = kLlama8B;
  odd_mlp.inter = 14330;
  EXPECT_NE(refusal(odd_mlp, DType::F16, 4).find("the MLP width (intermediate_size) (14330) cannot be divided evenly over 4 ranks"),
            std::string::npos);
  Model short_weights = make_model(kLlama8B, DType::F16);
  short_weights.weights.layers.pop_back();
  try {
    plan_tensor_parallel(short_weights.spec, short_weights.weights, 2);
    ADD_FAILURE() << "accepted 31 layers of weights for 32";
  } catch (const InvalidArgumentError& e) {
    EXPECT_NE(std::string(e.what()).find("the weights' layer count does not match the model's"), std::string::npos);
  }
  Shape not_gqa = kLlama8B;
  not_gqa.kv_heads = 5;
  EXPECT_NE(refusal(not_gqa, DType::F16, 2).find("32 query heads and 5 kv heads are not a GQA layout"), std::string::npos);
  Shape tiny_vocab = kLlama8B;
  tiny_vocab.vocab = 40;  // 16-row panels: chunks of 16 leave the 4th rank nothing
  EXPECT_NE(refusal(tiny_vocab, DType::Q8_0_X16, 4).find("the vocabulary (40 rows) is too small for 4 ranks"),
            std::string::npos);
  // 16-row interleaved panels: one query head of 8 dims per rank is an 8-row shard.
  Shape narrow{512, 2048, 1, 8, 8, 8, 4096};
  const std::string panel = refusal(narrow, DType::Q8_0_X16, 8);
  EXPECT_NE(panel.find("layers.0.q (blk.0.attn_q.weight): rows [0, 8) cut its 16-row panels"), std::string::npos) << panel;
}

// Every refusal names the model, the rank count and the numbers.
TEST(TensorParallel, RefusalsNameTheModelAndRanks) {
  Model m = make_model(kLlama8B, DType::F16);
  m.spec.model_type = "llama";
  try {
    plan_tensor_parallel(m.spec, m.weights, 3);
    FAIL() << "accepted 32 heads over 3 ranks";
  } catch (const InvalidArgumentError& e) {
    EXPECT_EQ(std::string(e.what()),
              "tensor parallelism over 3 ranks: llama model: the query heads (32) cannot be divided evenly over 3 ranks");
  }
}

// Shard shapes and bytes of the real models, computed by hand.
TEST(TensorParallel, Llama8BShardBytesInQ8_0) {
  const Model m = make_model(kLlama8B, DType::Q8_0);
  const TensorParallelPlan plan = plan_tensor_parallel(m.spec, m.weights, 2);
  const RankShards& r1 = plan.ranks[1];
  // Q8_0: 34 bytes per 32 values.
  const TensorShard& q = shard(r1, "layers.31.q");
  EXPECT_EQ(q.split, ShardSplit::output);
  EXPECT_EQ(q.range, (IndexRange{2048, 4096}));
  EXPECT_EQ(q.bytes, 2048u * 4096 / 32 * 34);
  const TensorShard& k = shard(r1, "layers.0.k");
  EXPECT_EQ(k.shape, (std::vector<int64_t>{512, 4096}));
  EXPECT_EQ(k.bytes, 512u * 4096 / 32 * 34);
  const TensorShard& o = shard(r1, "layers.0.o");
  EXPECT_EQ(o.split, ShardSplit::input);
  EXPECT_EQ(o.range, (IndexRange{2048, 4096}));
  EXPECT_EQ(o.bytes, 4096u * 2048 / 32 * 34);
  const TensorShard& down = shard(r1, "layers.0.down");
  EXPECT_EQ(down.shape, (std::vector<int64_t>{4096, 7168}));
  EXPECT_EQ(down.bytes, 4096u * 7168 / 32 * 34);
  EXPECT_FALSE(down.adds_bias);
  EXPECT_EQ(shard(r1, "lm_head").range, (IndexRange{64128, 128256}));
  EXPECT_EQ(shard(r1, "layers.0.attn_norm").split, ShardSplit::replicated);
  EXPECT_EQ(shard(r1, "layers.0.attn_norm").bytes, 4096u * 4);
  // Per rank: half of every matrix (hidden 4096, q 4096, kv 1024, MLP 14336),
  // half of embedding and LM head, all the norms.
  const uint64_t per_layer = (4096u * 4096 * 2 + 1024u * 4096 * 2 + 14336u * 4096 * 3) / 2 / 32 * 34 + 2 * 4096 * 4;
  const uint64_t vocab = 2 * (64128u * 4096 / 32 * 34);
  EXPECT_EQ(r1.weight_bytes, 32 * per_layer + vocab + 4096 * 4);
  EXPECT_EQ(r1.kv_values_per_position, 32 * 2 * 4 * 128);
}

TEST(TensorParallel, GptOssBiasesAndSinksFollowTheirHeads) {
  const Model m = make_model(kGptOss20B, DType::MXFP4);
  const TensorParallelPlan plan = plan_tensor_parallel(m.spec, m.weights, 4);
  expect_partition(m, plan);
  const RankShards& r2 = plan.ranks[2];
  EXPECT_EQ(r2.q_heads, (IndexRange{32, 48}));
  EXPECT_EQ(r2.kv_heads, (IndexRange{4, 6}));
  EXPECT_EQ(shard(r2, "layers.0.sinks").range, (IndexRange{32, 48}));
  EXPECT_EQ(shard(r2, "layers.0.q_bias").range, (IndexRange{32 * 64, 48 * 64}));
  EXPECT_EQ(shard(r2, "layers.0.k_bias").range, (IndexRange{4 * 64, 6 * 64}));
  EXPECT_EQ(shard(r2, "layers.0.router_bias").split, ShardSplit::replicated);
  EXPECT_EQ(shard(r2, "layers.0.experts.16.down_bias").split, ShardSplit::owned);
  // The o bias is added once, by rank 0.
  EXPECT_TRUE(shard(plan.ranks[0], "layers.0.o").adds_bias);
  EXPECT_EQ(shard(plan.ranks[0], "layers.0.o_bias").split, ShardSplit::owned);
  EXPECT_FALSE(shard(r2, "layers.0.o").adds_bias);
  EXPECT_THROW(shard(r2, "layers.0.o_bias"), std::runtime_error);
  // MXFP4 experts: 17 bytes per 32 values, whole.
  EXPECT_EQ(shard(r2, "layers.0.experts.16.gate").bytes, 2880u * 2880 / 32 * 17);
}

TEST(TensorParallel, Qwen3MoeExpertsOverTwoFourEight) {
  const Model m = make_model(kQwen3_30B_A3B, DType::Q4_K);
  for (int world : {2, 4, 8}) {
    SCOPED_TRACE(world);
    const TensorParallelPlan plan = plan_tensor_parallel(m.spec, m.weights, world);
    expect_partition(m, plan);
    expect_heads_meet(m.spec, plan);
    for (const RankShards& r : plan.ranks) {
      EXPECT_EQ(r.experts.size(), 128 / world);
      EXPECT_EQ(r.q_heads.size(), 32 / world);
      // 4 kv heads: split over 2 and 4, each held by 2 ranks over 8.
      EXPECT_EQ(r.kv_heads.size(), world <= 4 ? 4 / world : 1);
      EXPECT_EQ(r.intermediate.size(), 0);
    }
    // Q4_K experts: 144 bytes per 256 values, whole on their rank.
    EXPECT_EQ(shard(plan.ranks.back(), "layers.47.experts.127.down").bytes, 2048u * 768 / 256 * 144);
  }
}

// A rank's bytes of a shard, materialised from the stored format: rows a view,
// columns copied block by block; what was planned.
TEST(TensorParallel, ShardTensorTakesWholeBlocks) {
  std::vector<uint8_t> bytes(4 * (256 / 32) * 34);
  for (size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<uint8_t>(i * 7);
  Tensor t;
  t.name = "w";
  t.dtype = DType::Q8_0;
  t.shape = {4, 256};
  t.data = bytes.data();
  t.nbytes = bytes.size();
  std::vector<std::shared_ptr<const void>> owned;
  const Tensor cols = shard_tensor(t, {"x", ShardSplit::input, {64, 128}, {4, 64}, 4 * 2 * 34, false}, owned);
  EXPECT_EQ(cols.shape, (std::vector<int64_t>{4, 64}));
  EXPECT_EQ(cols.nbytes, 4u * 2 * 34);
  for (int r = 0; r < 4; ++r)  // row r's blocks 2 and 3
    EXPECT_EQ(std::memcmp(static_cast<const uint8_t*>(cols.data) + r * 68, bytes.data() + r * 272 + 68, 68), 0);
  const Tensor rows = shard_tensor(t, {"x", ShardSplit::output, {2, 4}, {2, 256}, 2 * 272, false}, owned);
  EXPECT_EQ(rows.data, bytes.data() + 2 * 272);
  EXPECT_THROW(shard_tensor(t, {"x", ShardSplit::input, {16, 48}, {4, 32}, 0, false}, owned), InvalidArgumentError);
  t.dtype = DType::Q8_0_X16;
  EXPECT_THROW(shard_tensor(t, {"x", ShardSplit::input, {64, 128}, {4, 64}, 0, false}, owned), UnsupportedError);
}

// Random GQA shapes and rank counts: whatever is accepted partitions exactly.
TEST(TensorParallel, RandomShapesPartitionExactly) {
  std::mt19937 rng(7);
  int accepted = 0;
  for (int trial = 0; trial < 300; ++trial) {
    const int64_t kv = 1 << (rng() % 4), group = 1 + rng() % 4, head_dim = 16 * (1 + rng() % 4);
    Shape s{64 * (1 + static_cast<int64_t>(rng() % 8)), 32 * (1 + static_cast<int64_t>(rng() % 24)), 2,
            kv * group, kv, head_dim, 100 + static_cast<int64_t>(rng() % 900)};
    const int world = 1 + static_cast<int>(rng() % 8);
    const Model m = make_model(s, trial % 2 ? DType::Q8_0 : DType::F32);
    try {
      const TensorParallelPlan plan = plan_tensor_parallel(m.spec, m.weights, world);
      expect_partition(m, plan);
      expect_heads_meet(m.spec, plan);
      ++accepted;
    } catch (const InvalidArgumentError&) {
    }
  }
  EXPECT_GT(accepted, 60);
}

}  // namespace
}  // namespace allm
