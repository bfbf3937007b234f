// The engine's models through the CUDA backend: every fixture checkpoint
// (tests/data/models) and GGUF fixture (tests/data/gguf) against the same
// oracles and bounds the CPU backend meets (transformers' logits: 1e-3, MLX
// 2e-2; llama.cpp's for GGUF: float files 6e-2, quantised max 0.75 / RMS 0.2
// and the reference's top-1 wherever it leads by 0.3), and token by token
// against the CPU backend while decoding from the cache (GEMV + paged
// attention), and a longer prompt over F32 and F16 KV caches (the F16 one
// through the tensor-core prefill attention); and split by --gpu-layers (the
// first half of the layers on the GPU, the rest and the LM head on the CPU)
// against the CPU backend (bounds widened, as for F16 caches, by how far F16
// KV rows move the CPU's own logits). Skipped, with the reason, where no CUDA device can
// be used.
// Paths: ALLM_TEST_DATA_DIR / ALLM_TEST_PLUGIN_DIR in the environment
// override the build tree's (the GPU machine runs a copy).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "allm/architecture.hpp"
#include "allm/kv_cache.hpp"
#include "allm/kv_pool.hpp"
#include "allm/model_loader.hpp"
#include "allm/registry.hpp"
#include "allm/safetensors.hpp"
#include "cuda_backend.hpp"
#include "model_plugins.hpp"

namespace allm::cuda {
namespace {

namespace fs = std::filesystem;

fs::path data_dir() {
  const char* env = std::getenv("ALLM_TEST_DATA_DIR");
  return env ? fs::path(env) : fs::path(ALLM_TEST_DATA_DIR);
}

void load_arch_plugins() {
  static const bool loaded = [] {
    const char* env = std::getenv("ALLM_TEST_PLUGIN_DIR");
    register_model_plugins(env ? fs::path(env) : fs::path(ALLM_TEST_PLUGIN_DIR));
    return true;
  }();
  (void)loaded;
}

std::shared_ptr<Backend> gpu() {
  static std::shared_ptr<Backend> be = make_cuda_backend();
  return be;
}

std::unique_ptr<Model> make(const Checkpoint& ckpt, std::shared_ptr<Backend> backend, int64_t gpu_layers = -1) {
  ArchitectureFactory* f = Registry::instance().architecture(ckpt.model_type);
  if (!f) throw std::runtime_error("no architecture plugin for " + ckpt.model_type);
  ModelOptions opt;
  opt.threads = 2;
  opt.backend = std::move(backend);
  opt.gpu_layers = gpu_layers;
  return f->create(ckpt, opt);
}

template <class T>
std::vector<T> values(const Tensor& t) {
  const T* p = static_cast<const T*>(t.data);
  return std::vector<T>(p, p + t.numel());
}

struct Diff {
  double max = 0, rms = 0;
};
Diff diff(const std::vector<float>& a, const std::vector<float>& b) {
  Diff d;
  double sq = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    const double e = std::isfinite(a[i]) ? std::fabs(double(a[i]) - b[i]) : INFINITY;
    d.max = std::max(d.max, e);
    sq += e * e;
  }
  d.rms = std::sqrt(sq / double(std::max<size_t>(1, a.size())));
  return d;
}

struct Case {
  std::string name;  // folder under models/, or gguf/NAME.gguf
  bool gguf;
  double tolerance;  // max |diff| against the reference (GGUF quantised: also RMS 0.2 and top-1)

  fs::path checkpoint() const { return gguf ? data_dir() / "gguf" / (name + ".gguf") : data_dir() / "models" / name; }
  fs::path reference() const {
    return gguf ? data_dir() / "gguf" / (name + ".reference.safetensors")
                : data_dir() / "models" / name / "reference.safetensors";
  }
  bool quantised_gguf() const { return gguf && tolerance > 0.5; }
};

// Why a case cannot run here (no usable CUDA device, no fixture), or "";
// the architecture plugins loaded when it can.
std::string skip_reason(const Case& c) {
  std::string why = unavailable_reason();
  if (why.empty() && !fs::exists(c.checkpoint())) why = "no fixture " + c.name;
  if (why.empty()) load_arch_plugins();
  return why;
}

// `steps` tokens decoded by both models from their caches, each step fed the
// CPU model's greedy choice (starting with `next`): the largest logit
// difference of any step.
double decode_side_by_side(Model& model, KVCache& cache, Model& on_cpu, KVCache& cpu_cache, int32_t next, int steps) {
  const auto vocab = static_cast<size_t>(on_cpu.info().vocab_size);
  std::vector<float> got(vocab), want(vocab);
  double worst = 0;
  for (int step = 0; step < steps; ++step) {
    model.forward(std::vector<int32_t>{next}, cache, LogitsMode::last, got.data());
    on_cpu.forward(std::vector<int32_t>{next}, cpu_cache, LogitsMode::last, want.data());
    worst = std::max(worst, diff(got, want).max);
    next = int32_t(std::max_element(want.begin(), want.end()) - want.begin());
  }
  return worst;
}

std::vector<Case> cases() {
  std::vector<Case> out;
  for (const char* n : {"llama", "mistral", "qwen2", "qwen3", "gemma2", "gemma3", "phi3", "mixtral", "qwen3_moe",
                        "granite", "smollm3", "olmo2", "gpt_oss", "llama-bf16", "qwen3-bf16"})
    out.push_back({n, false, 1e-3});
  for (const char* n : {"llama-mlx4", "qwen3-mlx4", "llama-mlx8", "qwen3-mlx8", "llama-mlx-mixed"}) out.push_back({n, false, 2e-2});
  const char* gguf[] = {"gemma3-f32", "gemma3-q8_0", "llama-f16", "llama-f32", "llama-q4_0", "llama-q4_k_m",
                        "llama-q8_0", "mistral-f32", "mistral-q8_0", "mixtral-f32", "mixtral-q8_0", "qwen2-f32",
                        "qwen2-q8_0", "qwen3-f16", "qwen3-f32", "qwen3-q4_0", "qwen3-q4_k_m", "qwen3-q8_0",
                        "qwen3_moe-f32", "qwen3_moe-q8_0"};
  for (const char* n : gguf) {
    const std::string s = n;
    const bool flt = s.find("-f32") != std::string::npos || s.find("-f16") != std::string::npos;
    out.push_back({s, true, flt ? 6e-2 : 0.75});
  }
  return out;
}

class CudaLogits : public ::testing::TestWithParam<Case> {};

TEST_P(CudaLogits, MatchTheReferenceAndTheCpuBackend) {
  const Case c = GetParam();
  if (const std::string why = skip_reason(c); !why.empty()) GTEST_SKIP() << why;
  const Checkpoint ckpt = load_checkpoint(c.checkpoint());
  auto on_gpu = make(ckpt, gpu());
  auto on_cpu = make(ckpt, nullptr);
  auto ref = SafetensorsFile::open(c.reference());
  const auto ids = values<int32_t>(ref.get("input_ids"));
  const auto expected = values<float>(ref.get("logits"));
  const int64_t vocab = on_gpu->info().vocab_size, n = int64_t(ids.size());
  ASSERT_EQ(int64_t(expected.size()), n * vocab);

  // Prefill: every position's logits (24 tokens: the GEMVs, or cuBLAS for 16-bit weights).
  auto gpu_cache = on_gpu->make_cache();
  auto cpu_cache = on_cpu->make_cache();
  std::vector<float> lg(size_t(n * vocab)), lc(size_t(n * vocab));
  on_gpu->forward(ids, *gpu_cache, LogitsMode::all, lg.data());
  on_cpu->forward(ids, *cpu_cache, LogitsMode::all, lc.data());
  const Diff vs_ref = diff(lg, expected), cpu_ref = diff(lc, expected), vs_cpu = diff(lg, lc);
  std::printf("[ %-16s ] prefill %3lld tokens: cuda-ref max %.4g rms %.3g | cpu-ref max %.4g | cuda-cpu max %.4g\n",
              c.name.c_str(), (long long)n, vs_ref.max, vs_ref.rms, cpu_ref.max, vs_cpu.max);
  EXPECT_LE(vs_ref.max, c.tolerance) << c.name;
  const bool quantised_gguf = c.quantised_gguf();
  if (quantised_gguf) {
    EXPECT_LE(vs_ref.rms, 0.2) << c.name;
  }
  for (int64_t t = 0; t < n; ++t) {
    const float* r = expected.data() + t * vocab;
    const float* g = lg.data() + t * vocab;
    const int64_t top = std::max_element(r, r + vocab) - r;
    float second = -INFINITY;
    for (int64_t v = 0; v < vocab; ++v)
      if (v != top) second = std::max(second, r[v]);
    if (r[top] - second > 0.3f) {
      EXPECT_EQ(std::max_element(g, g + vocab) - g, top) << c.name << " position " << t;
    }
  }

  // Decode 12 tokens from the caches (GEMV + paged attention), the CPU's greedy choice fed to both.
  const int32_t first = int32_t(std::max_element(lc.end() - vocab, lc.end()) - (lc.end() - vocab));
  const double worst = decode_side_by_side(*on_gpu, *gpu_cache, *on_cpu, *cpu_cache, first, 12);
  std::printf("[ %-16s ] decode 12 steps: cuda-cpu max %.4g\n", c.name.c_str(), worst);
  // The CPU's own bound against its reference, for the CUDA backend against the CPU.
  EXPECT_LE(worst, c.tolerance) << c.name << " decode";

  // A prompt long enough for the cuBLAS tensor-core prefill (past the GEMVs'
  // 32 tokens: the fixture's prompt three times), every position's logits
  // against the CPU backend's, with the CPU's bound against its reference.
  std::vector<int32_t> long_ids;
  for (int i = 0; i < 3; ++i) long_ids.insert(long_ids.end(), ids.begin(), ids.end());
  const int64_t m = int64_t(long_ids.size());
  auto gpu_long = on_gpu->make_cache();
  auto cpu_long = on_cpu->make_cache();
  std::vector<float> pg(size_t(m * vocab)), pc(size_t(m * vocab));
  on_gpu->forward(long_ids, *gpu_long, LogitsMode::all, pg.data());
  on_cpu->forward(long_ids, *cpu_long, LogitsMode::all, pc.data());
  const Diff long_diff = diff(pg, pc);
  std::printf("[ %-16s ] prefill %3lld tokens (GEMM): cuda-cpu max %.4g rms %.3g\n", c.name.c_str(), (long long)m,
              long_diff.max, long_diff.rms);
  EXPECT_LE(long_diff.max, c.tolerance) << c.name << " long prefill";
  if (quantised_gguf) {
    EXPECT_LE(long_diff.rms, 0.2) << c.name << " long prefill";
  }

  // The same prompt over F16 KV caches on both backends: on the GPU, the
  // tensor-core prefill attention (flash_attention.cu). Rounding K and V to
  // F16 turns the backends' ~1e-6 differences into occasional one-ulp
  // differences of stored rows (2^-11 relative), which a model can amplify
  // (a MoE router's choice flips); so the bound is the CPU's own bound plus
  // how far F16 rows move the CPU's logits from its F32-cache logits. A
  // wrong attention (mask, window, tile) is off by far more.
  const std::vector<float> pc32 = pc;
  KVCache gpu_f16(on_gpu->make_pool(0, KVType::f16)), cpu_f16(on_cpu->make_pool(0, KVType::f16));
  on_gpu->forward(long_ids, gpu_f16, LogitsMode::all, pg.data());
  on_cpu->forward(long_ids, cpu_f16, LogitsMode::all, pc.data());
  const Diff f16_diff = diff(pg, pc), f16_effect = diff(pc, pc32);
  std::printf("[ %-16s ] prefill %3lld tokens, F16 KV: cuda-cpu max %.4g rms %.3g (F16 rows move the CPU's by %.4g)\n",
              c.name.c_str(), (long long)m, f16_diff.max, f16_diff.rms, f16_effect.max);
  EXPECT_LE(f16_diff.max, c.tolerance + f16_effect.max) << c.name << " long prefill, F16 KV";
  if (quantised_gguf) {
    EXPECT_LE(f16_diff.rms, 0.2) << c.name << " long prefill, F16 KV";
  }
}

std::string case_name(const ::testing::TestParamInfo<Case>& info) {
  std::string n = info.param.name;
  std::replace(n.begin(), n.end(), '-', '_');
  return n;
}

INSTANTIATE_TEST_SUITE_P(Fixtures, CudaLogits, ::testing::ValuesIn(cases()), case_name);

// --gpu-layers: the first half of the layers (at least one) on the GPU, the
// rest and the LM head on the CPU; the residual stream crosses once a
// forward. Every position of a prefill, 12 decode steps from the cache and a
// step of two sequences batched, against the CPU backend alone. The bound is
// the whole GPU's plus how far this track moves the CPU's own logits when its
// KV rows are rounded to F16, as for the F16 caches above: the layers after
// the crossing see the GPU's residual stream, off the CPU's by the int8 paths'
// rounding, and a model at a near tie amplifies any such difference (the
// qwen3_moe Q8_0 fixture's router flips at one decode step: split and F16
// rows alike move its logits by 1.1). A wrong split (layers, positions, the
// crossing) is off by far more.
class CudaGpuLayers : public ::testing::TestWithParam<Case> {};

TEST_P(CudaGpuLayers, FirstHalfOnTheGpuGivesTheCpuBackendsLogits) {
  const Case c = GetParam();
  if (const std::string why = skip_reason(c); !why.empty()) GTEST_SKIP() << why;
  const Checkpoint ckpt = load_checkpoint(c.checkpoint());
  auto on_cpu = make(ckpt, nullptr);
  const int64_t layers = on_cpu->info().layers, on_device = std::max<int64_t>(1, layers / 2);
  ASSERT_GE(layers, 2) << c.name;
  auto split = make(ckpt, gpu(), on_device);
  EXPECT_NE(split->info().backend.find(" + cpu (layers " + std::to_string(on_device) + "-"), std::string::npos)
      << split->info().backend;
  auto ref = SafetensorsFile::open(c.reference());
  const auto ids = values<int32_t>(ref.get("input_ids"));
  const int64_t vocab = on_cpu->info().vocab_size, n = int64_t(ids.size());
  const auto row = static_cast<size_t>(vocab);

  // Each phase's logits from the split model, the CPU model and the CPU model
  // over F16 KV rows (`f16_effect`: the CPU's F32 against its F16 logits).
  auto split_cache = split->make_cache();
  auto cpu_cache = on_cpu->make_cache();
  KVCache cpu_f16(on_cpu->make_pool(0, KVType::f16));
  double f16_effect = 0;

  std::vector<float> ls(size_t(n) * row), lc(size_t(n) * row), lh(size_t(n) * row);
  split->forward(ids, *split_cache, LogitsMode::all, ls.data());
  on_cpu->forward(ids, *cpu_cache, LogitsMode::all, lc.data());
  on_cpu->forward(ids, cpu_f16, LogitsMode::all, lh.data());
  const Diff prefill = diff(ls, lc);
  f16_effect = std::max(f16_effect, diff(lh, lc).max);

  // 12 decode steps, each fed the CPU model's greedy choice.
  std::vector<float> ds(row), dc(row), dh(row);
  int32_t next = int32_t(std::max_element(lc.end() - vocab, lc.end()) - (lc.end() - vocab));
  double decode = 0;
  for (int step = 0; step < 12; ++step) {
    const std::vector<int32_t> token{next};
    split->forward(token, *split_cache, LogitsMode::last, ds.data());
    on_cpu->forward(token, *cpu_cache, LogitsMode::last, dc.data());
    on_cpu->forward(token, cpu_f16, LogitsMode::last, dh.data());
    decode = std::max(decode, diff(ds, dc).max);
    f16_effect = std::max(f16_effect, diff(dh, dc).max);
    next = int32_t(std::max_element(dc.begin(), dc.end()) - dc.begin());
  }

  // Two sequences in one step: the caches above and fresh ones fed the prompt's first token.
  auto split_fresh = split->make_cache();
  auto cpu_fresh = on_cpu->make_cache();
  KVCache cpu_f16_fresh(on_cpu->make_pool(0, KVType::f16));
  const std::vector<int32_t> a{next}, b{ids[0]};
  const BatchEntry split_batch[] = {{split_cache.get(), a}, {split_fresh.get(), b}};
  const BatchEntry cpu_batch[] = {{cpu_cache.get(), a}, {cpu_fresh.get(), b}};
  const BatchEntry f16_batch[] = {{&cpu_f16, a}, {&cpu_f16_fresh, b}};
  std::vector<float> bs(2 * row), bc(2 * row), bh(2 * row);
  split->forward(std::span<const BatchEntry>(split_batch), bs.data());
  on_cpu->forward(std::span<const BatchEntry>(cpu_batch), bc.data());
  on_cpu->forward(std::span<const BatchEntry>(f16_batch), bh.data());
  const Diff batched = diff(bs, bc);
  f16_effect = std::max(f16_effect, diff(bh, bc).max);

  const double bound = c.tolerance + f16_effect;
  std::printf("[ %-16s ] layers 0-%lld on the GPU: prefill cuda+cpu vs cpu max %.4g, decode %.4g, batched %.4g "
              "(bound %.4g: F16 rows move the CPU's by %.4g)\n",
              c.name.c_str(), (long long)on_device - 1, prefill.max, decode, batched.max, bound, f16_effect);
  EXPECT_LE(prefill.max, bound) << c.name << " prefill";
  EXPECT_LE(decode, bound) << c.name << " decode";
  EXPECT_LE(batched.max, bound) << c.name << " batched step";
  if (c.quantised_gguf()) {
    EXPECT_LE(prefill.rms, 0.2) << c.name << " prefill";
  }
}

INSTANTIATE_TEST_SUITE_P(Fixtures, CudaGpuLayers, ::testing::ValuesIn(cases()), case_name);

}  // namespace
}  // namespace allm::cuda
