// What architecture plugins promise beyond matching logits: bad checkpoints
// fail with errors naming the tensor or config key, and GGUF-style
// interleaved rope (rope_interleaved with Q/K rows permuted) is equivalent.
#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <vector>

#include "allm/error.hpp"
#include "engine_test_util.hpp"

namespace allm::test {
namespace {

// A weight store that overrides or hides some tensors of another one.
class PatchedStore final : public WeightStore {
 public:
  explicit PatchedStore(std::shared_ptr<WeightStore> base) : base_(std::move(base)) {}
  std::map<std::string, Tensor> patched;
  std::vector<std::string> hidden;
  std::vector<std::vector<float>> owned;

  const Tensor* find(const std::string& name) const override {
    if (std::find(hidden.begin(), hidden.end(), name) != hidden.end()) return nullptr;
    auto it = patched.find(name);
    return it != patched.end() ? &it->second : base_->find(name);
  }
  const Tensor& get(const std::string& name) const override {
    if (auto* t = find(name)) return *t;
    throw ModelLoadError("test store: tensor '" + name + "' not found");
  }
  std::vector<std::string> names() const override { return base_->names(); }
  uint64_t total_bytes() const override { return base_->total_bytes(); }

 private:
  std::shared_ptr<WeightStore> base_;
};

std::string load_error(const Checkpoint& ckpt) {
  try {
    make_model(ckpt);
  } catch (const Error& e) {
    return std::string(e.code() == ErrorCode::model_load ? "model_load" : error_code_name(e.code())) + ": " + e.what();
  }
  return "(no error)";
}

TEST(ArchitectureContract, WrongShapeNamesTheTensor) {
  Checkpoint ckpt = load_fixture("llama");
  auto store = std::make_shared<PatchedStore>(ckpt.weights);
  Tensor t = ckpt.weights->get("model.layers.1.mlp.up_proj.weight");
  t.shape = {t.shape[1], t.shape[0]};
  store->patched[t.name] = t;
  ckpt.weights = store;
  const std::string err = load_error(ckpt);
  EXPECT_NE(err.find("model_load"), std::string::npos) << err;
  EXPECT_NE(err.find("model.layers.1.mlp.up_proj.weight"), std::string::npos) << err;
}

TEST(ArchitectureContract, MissingTensorNamesTheTensor) {
  Checkpoint ckpt = load_fixture("qwen3");
  auto store = std::make_shared<PatchedStore>(ckpt.weights);
  store->hidden.push_back("model.layers.0.self_attn.k_norm.weight");
  ckpt.weights = store;
  const std::string err = load_error(ckpt);
  EXPECT_NE(err.find("model.layers.0.self_attn.k_norm.weight"), std::string::npos) << err;
}

TEST(ArchitectureContract, BadConfigNamesTheKey) {
  Checkpoint ckpt = load_fixture("llama");
  ckpt.config["num_key_value_heads"] = 3;
  EXPECT_NE(load_error(ckpt).find("num_key_value_heads"), std::string::npos);
  ckpt = load_fixture("llama");
  ckpt.config["rope_scaling"]["rope_type"] = "yarn-like";
  EXPECT_NE(load_error(ckpt).find("rope_scaling.rope_type"), std::string::npos);
  ckpt = load_fixture("llama");
  ckpt.config.erase("hidden_size");
  EXPECT_NE(load_error(ckpt).find("'hidden_size'"), std::string::npos);
}

// llama.cpp's converter reorders each head's Q/K rows so rotary pairs are
// adjacent; with rope_interleaved the logits must not change.
TEST(ArchitectureContract, InterleavedRopeWithPermutedRowsIsEquivalent) {
  Checkpoint ckpt = load_fixture("llama");
  const auto ids = std::vector<int32_t>{3, 14, 15, 92, 65, 35, 89, 79};
  auto reference = make_model(ckpt);
  const int64_t V = reference->info().vocab_size;
  std::vector<float> expected(ids.size() * V), got(ids.size() * V);
  reference->forward(ids, *reference->make_cache(), LogitsMode::all, expected.data());

  auto store = std::make_shared<PatchedStore>(ckpt.weights);
  const int64_t head_dim = ckpt.config["head_dim"];
  for (int layer = 0; layer < 2; ++layer)
    for (const char* proj : {"q_proj", "k_proj"}) {
      const Tensor& src = ckpt.weights->get("model.layers." + std::to_string(layer) + ".self_attn." + proj + ".weight");
      ASSERT_EQ(src.dtype, DType::F32);
      const int64_t rows = src.shape[0], cols = src.shape[1], half = head_dim / 2;
      std::vector<float> perm(static_cast<size_t>(rows * cols));
      const float* in = static_cast<const float*>(src.data);
      for (int64_t r = 0; r < rows; ++r) {
        const int64_t head = r / head_dim, i = r % head_dim;
        const int64_t from = head * head_dim + (i % 2 == 0 ? i / 2 : half + i / 2);
        std::copy_n(in + from * cols, cols, perm.data() + r * cols);
      }
      store->owned.push_back(std::move(perm));
      Tensor t = src;
      t.data = store->owned.back().data();
      store->patched[t.name] = t;
    }
  ckpt.weights = store;
  ckpt.config["rope_interleaved"] = true;
  auto interleaved = make_model(ckpt);
  interleaved->forward(ids, *interleaved->make_cache(), LogitsMode::all, got.data());
  double m = 0;
  for (size_t i = 0; i < got.size(); ++i) m = std::max(m, std::fabs(double(got[i]) - expected[i]));
  EXPECT_LT(m, 1e-4);

  ckpt.config["rope_interleaved"] = false;  // and the permutation alone does change the result
  auto wrong = make_model(ckpt);
  wrong->forward(ids, *wrong->make_cache(), LogitsMode::all, got.data());
  m = 0;
  for (size_t i = 0; i < got.size(); ++i) m = std::max(m, std::fabs(double(got[i]) - expected[i]));
  EXPECT_GT(m, 1e-3);
}

// Llama's attention_bias covers o_proj too, mlp_bias the three MLP projections.
TEST(ArchitectureContract, LlamaBiasesAreAppliedWhenTheConfigAsksForThem) {
  Checkpoint ckpt = load_fixture("llama");
  const auto ids = std::vector<int32_t>{3, 14, 15, 92, 65};
  auto plain = make_model(ckpt);
  const int64_t V = plain->info().vocab_size, H = ckpt.config["hidden_size"], I = ckpt.config["intermediate_size"];
  const int64_t q = 4 * 16, kv = 2 * 16;
  std::vector<float> expected(ids.size() * V), got(ids.size() * V);
  plain->forward(ids, *plain->make_cache(), LogitsMode::all, expected.data());

  auto store = std::make_shared<PatchedStore>(ckpt.weights);
  store->owned.reserve(64);
  auto add_bias = [&](const std::string& name, int64_t n, float value) {
    store->owned.emplace_back(static_cast<size_t>(n), value);
    Tensor t;
    t.name = name;
    t.dtype = DType::F32;
    t.shape = {n};
    t.data = store->owned.back().data();
    t.nbytes = static_cast<size_t>(n) * 4;
    store->patched[name] = t;
  };
  for (int l = 0; l < 2; ++l) {
    const std::string p = "model.layers." + std::to_string(l) + ".";
    add_bias(p + "self_attn.q_proj.bias", q, 0);
    add_bias(p + "self_attn.k_proj.bias", kv, 0);
    add_bias(p + "self_attn.v_proj.bias", kv, 0);
    add_bias(p + "self_attn.o_proj.bias", H, 0);
    add_bias(p + "mlp.gate_proj.bias", I, 0);
    add_bias(p + "mlp.up_proj.bias", I, 0);
    add_bias(p + "mlp.down_proj.bias", H, 0);
  }
  ckpt.weights = store;
  ckpt.config["attention_bias"] = true;
  ckpt.config["mlp_bias"] = true;
  auto zero = make_model(ckpt);
  zero->forward(ids, *zero->make_cache(), LogitsMode::all, got.data());
  double m = 0;
  for (size_t i = 0; i < got.size(); ++i) m = std::max(m, std::fabs(double(got[i]) - expected[i]));
  EXPECT_LT(m, 1e-5);  // zero biases change nothing

  std::fill(store->owned.back().begin(), store->owned.back().end(), 0.5f);  // layer 1 down_proj.bias
  auto shifted = make_model(ckpt);
  shifted->forward(ids, *shifted->make_cache(), LogitsMode::all, got.data());
  m = 0;
  for (size_t i = 0; i < got.size(); ++i) m = std::max(m, std::fabs(double(got[i]) - expected[i]));
  EXPECT_GT(m, 1e-3);  // and a non-zero one is applied

  store->hidden.push_back("model.layers.0.self_attn.o_proj.bias");
  EXPECT_NE(load_error(ckpt).find("model.layers.0.self_attn.o_proj.bias"), std::string::npos);
}

TEST(ArchitectureContract, EveryBundledArchitectureIsRegistered) {
  load_arch_plugins();
  for (const char* a : {"llama", "mistral", "qwen2", "qwen3", "gemma2", "gemma3_text", "phi3", "mixtral", "qwen3_moe",
                        "granite", "smollm3", "olmo2", "gpt_oss"})
    EXPECT_NE(Registry::instance().architecture(a), nullptr) << a;
}

}  // namespace
}  // namespace allm::test
