// The device-ready backend seam: every fixture checkpoint runs on a backend
// whose memory the host cannot touch (remote_backend.hpp: a dereference of its
// memory by the decoder is a segmentation fault) and gives transformers' logits
// and the CPU backend's; the paged KV cache (fork, copy-on-write, truncate,
// session read/write, every KV type) works with its blocks there; only the
// logits (and MoE's chosen expert ids) come back per decode step; weights are
// made resident once and every byte is given back.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "allm/error.hpp"
#include "allm/generate.hpp"
#include "allm/safetensors.hpp"
#include "engine_test_util.hpp"
#include "remote_backend.hpp"

namespace allm::test {
namespace {

std::unique_ptr<Model> make_model_on(const Checkpoint& ckpt, std::shared_ptr<Backend> backend) {
  load_arch_plugins();
  ModelOptions opt;
  opt.backend = std::move(backend);
  return Registry::instance().architecture(ckpt.model_type)->create(ckpt, opt);
}

template <class T>
std::vector<T> values(const Tensor& t) {
  const T* p = static_cast<const T*>(t.data);
  return std::vector<T>(p, p + t.numel());
}

TEST(RemoteBackend, HostAccessToItsMemoryCrashes) {
  // What makes the tests below meaningful: the decoder could not read a
  // single activation without dying.
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  RemoteBackend remote(1);
  auto* p = static_cast<volatile float*>(remote.alloc(64));
  EXPECT_DEATH((void)p[0], "");
  EXPECT_DEATH(p[1] = 1.0f, "");
  float host[4] = {1, 2, 3, 4};
  EXPECT_THROW(remote.upload(host, host, sizeof host), std::logic_error);  // host memory is not backend memory
  remote.free(const_cast<float*>(p));
}

class FixtureOnRemote : public ::testing::TestWithParam<std::string> {};

TEST_P(FixtureOnRemote, MatchesTransformersAndTheCpuBackend) {
  Checkpoint ckpt = load_fixture(GetParam());
  auto remote = std::make_shared<RemoteBackend>(2);
  auto ref = SafetensorsFile::open(fixture(GetParam()) / "reference.safetensors");
  const auto ids = values<int32_t>(ref.get("input_ids"));
  const auto expected = values<float>(ref.get("logits"));
  {
    auto cpu = make_model(ckpt);
    auto model = make_model_on(ckpt, remote);
    EXPECT_EQ(model->info().backend, "remote-test");
    EXPECT_GT(remote->resident(), 0);
    const int64_t V = model->info().vocab_size, n = static_cast<int64_t>(ids.size());
    const double tolerance = GetParam().find("mlx") != std::string::npos ? 2e-2 : 1e-3;

    auto cache = model->make_cache(), cpu_cache = cpu->make_cache();
    std::vector<float> got(static_cast<size_t>(n * V)), want(got.size());
    model->forward(ids, *cache, LogitsMode::all, got.data());
    cpu->forward(ids, *cpu_cache, LogitsMode::all, want.data());
    EXPECT_LE(max_diff(got, expected), tolerance);
    EXPECT_LE(max_diff(got, want), 1e-5);

    // Greedy decode: one token a step; what crosses back is the logits row
    // (and, for MoE layers, top_k expert ids), never hidden states.
    std::vector<float> last(static_cast<size_t>(V)), cpu_last(last.size());
    int32_t next = static_cast<int32_t>(std::max_element(got.end() - V, got.end()) - (got.end() - V));
    for (int step = 0; step < 6; ++step) {
      const uint64_t before = remote->downloaded();
      model->forward(std::vector<int32_t>{next}, *cache, LogitsMode::last, last.data());
      const uint64_t step_bytes = remote->downloaded() - before;
      EXPECT_GE(step_bytes, static_cast<uint64_t>(V) * 4);
      EXPECT_LE(step_bytes - static_cast<uint64_t>(V) * 4, static_cast<uint64_t>(model->info().layers) * 16 * 4)
          << "step " << step << ": the decoder downloaded more than the logits";
      cpu->forward(std::vector<int32_t>{next}, *cpu_cache, LogitsMode::last, cpu_last.data());
      EXPECT_LE(max_diff(last, cpu_last), 1e-5) << "step " << step;
      next = static_cast<int32_t>(std::max_element(last.begin(), last.end()) - last.begin());
    }
  }
  // Model and caches gone: every resident weight released, every buffer freed.
  EXPECT_EQ(remote->resident(), 0);
  EXPECT_EQ(remote->live_allocations(), 0u);
  EXPECT_EQ(remote->bad_frees(), 0);
}

INSTANTIATE_TEST_SUITE_P(AllFixtures, FixtureOnRemote,
                         ::testing::Values("llama", "mistral", "qwen2", "qwen3", "gemma2", "gemma3", "phi3", "mixtral",
                                           "qwen3_moe", "granite", "smollm3", "olmo2", "gpt_oss", "llama-bf16",
                                           "qwen3-mlx4", "llama-mlx8"),
                         [](const auto& info) {
                           std::string n = info.param;
                           std::replace(n.begin(), n.end(), '-', '_');
                           return n;
                         });

class KVOnRemote : public ::testing::TestWithParam<KVType> {};

// A shared pool in backend memory: a fork shares the prefix and writes its
// own blocks (copy-on-write), the parent continues undisturbed, a rewind
// truncates, and a session's KV rows read out and written back into a fresh
// sequence give the same logits; everything equal to the CPU backend's run.
TEST_P(KVOnRemote, ForkTruncateAndSessionRowsMatchTheCpuBackend) {
  const KVType type = GetParam();
  Checkpoint ckpt = load_fixture("qwen3");
  auto remote = std::make_shared<RemoteBackend>(2);
  {
    auto cpu = make_model(ckpt);
    auto model = make_model_on(ckpt, remote);
    const int64_t V = model->info().vocab_size;
    std::vector<int32_t> prompt;
    for (int i = 0; i < 37; ++i) prompt.push_back((i * 29 + 5) % static_cast<int32_t>(V));
    const std::vector<int32_t> tail_a = {7, 8, 9}, tail_b = {11, 12, 13, 14, 15};

    // The same steps on either model (kv_cache_script); every logits row it produced.
    auto script = [&](Model& m) { return kv_cache_script(m, type, prompt, tail_a, tail_b, tail_a); };
    const auto got = script(*model), want = script(*cpu);
    EXPECT_LE(max_diff(got, want), 1e-5);
    // The restored sequence continues exactly as the one it was read from.
    const std::vector<float> restored(got.end() - 2 * V, got.end() - V), original(got.end() - V, got.end());
    EXPECT_LE(max_diff(restored, original), type == KVType::f32 ? 1e-5 : 5e-2);
  }
  EXPECT_EQ(remote->live_allocations(), 0u);
}

INSTANTIATE_TEST_SUITE_P(Types, KVOnRemote, ::testing::Values(KVType::f32, KVType::f16, KVType::q8_0),
                         [](const auto& info) { return std::string(kv_type_name(info.param)); });

// The logits land in the backend's own host memory (what a GPU backend's
// page-locked memory is, which its copy engine fills at full speed) when the
// caller takes an OutputBuffer from the model, as allm::generate does; the
// buffer goes back to the backend with it.
TEST(RemoteBackend, OutputBuffersAreTheBackendsHostMemory) {
  Checkpoint ckpt = load_fixture("qwen3");
  auto remote = std::make_shared<RemoteBackend>(2);
  {
    auto model = make_model_on(ckpt, remote);
    auto cpu = make_model(ckpt);
    const int64_t V = model->info().vocab_size;
    ASSERT_NE(output_memory(*model), nullptr);
    const std::vector<int32_t> ids = synthetic_tokens(7, 1, V);
    {
      OutputBuffer logits(*model, static_cast<size_t>(V));
      EXPECT_EQ(remote->live_host_allocations(), 1u);
      auto cache = model->make_cache(), cpu_cache = cpu->make_cache();
      const uint64_t before = remote->downloaded_to_host_memory();
      model->forward(ids, *cache, LogitsMode::last, logits.data());
      EXPECT_EQ(remote->downloaded_to_host_memory() - before, static_cast<uint64_t>(V) * 4);
      std::vector<float> want(static_cast<size_t>(V));
      cpu->forward(ids, *cpu_cache, LogitsMode::last, want.data());
      EXPECT_LE(max_diff(std::vector<float>(logits.data(), logits.data() + V), want), 1e-5);

      logits.resize(static_cast<size_t>(V / 2));
      EXPECT_EQ(logits.size(), static_cast<size_t>(V)) << "a buffer never shrinks";
      logits.resize(static_cast<size_t>(2 * V));
      EXPECT_EQ(logits.size(), static_cast<size_t>(2 * V));
      EXPECT_EQ(remote->live_host_allocations(), 1u) << "growing gave the smaller block back";
      OutputBuffer moved = std::move(logits);
      EXPECT_EQ(logits.data(), nullptr);
      EXPECT_EQ(moved.size(), static_cast<size_t>(2 * V));
      EXPECT_EQ(remote->live_host_allocations(), 1u);
    }
    EXPECT_EQ(remote->live_host_allocations(), 0u);

    GenerationRequest req;
    req.prompt = ids;
    req.max_tokens = 4;
    req.ignore_eos = true;
    auto cache = model->make_cache();
    const uint64_t downloaded = remote->downloaded(), to_host = remote->downloaded_to_host_memory();
    const GenerationResult result = generate(*model, *cache, req);
    EXPECT_EQ(result.tokens.size(), 4u);
    EXPECT_GT(remote->downloaded() - downloaded, 0u);
    EXPECT_EQ(remote->downloaded_to_host_memory() - to_host, remote->downloaded() - downloaded)
        << "generate downloads every step's logits into the backend's host memory";
    EXPECT_EQ(remote->live_host_allocations(), 0u);
  }
  EXPECT_EQ(remote->bad_frees(), 0);
}

// A model on the CPU backend (no host memory of its own): ordinary memory, the same logits.
TEST(OutputBuffer, IsOrdinaryMemoryForAModelOnTheCpu) {
  Checkpoint ckpt = load_fixture("qwen3");
  auto model = make_model(ckpt);
  const int64_t V = model->info().vocab_size;
  const std::vector<int32_t> ids = synthetic_tokens(5, 2, V);
  OutputBuffer logits(*model, static_cast<size_t>(V));
  ASSERT_NE(logits.data(), nullptr);
  std::vector<float> want(static_cast<size_t>(V));
  auto cache = model->make_cache(), again = model->make_cache();
  model->forward(ids, *cache, LogitsMode::last, logits.data());
  model->forward(ids, *again, LogitsMode::last, want.data());
  EXPECT_EQ(std::vector<float>(logits.data(), logits.data() + V), want);
}

TEST(RemoteBackend, RefusesACacheInAnotherBackendsMemory) {
  Checkpoint ckpt = load_fixture("llama");
  auto model = make_model_on(ckpt, std::make_shared<RemoteBackend>(1));
  auto cpu = make_model(ckpt, 1);
  auto host_cache = cpu->make_cache();
  std::vector<float> logits(static_cast<size_t>(model->info().vocab_size));
  try {
    model->forward(std::vector<int32_t>{1, 2}, *host_cache, LogitsMode::last, logits.data());
    FAIL() << "a host-memory cache was accepted by a remote-memory model";
  } catch (const InvalidArgumentError& e) {
    EXPECT_NE(std::string(e.what()).find("host memory"), std::string::npos) << e.what();
  }
  EXPECT_EQ(host_cache->size(), 0);
}

}  // namespace
}  // namespace allm::test
