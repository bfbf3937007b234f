// A model split over two backends (ModelOptions::gpu_layers, `--gpu-layers
// N`): the first N layers on a device backend, the rest and the LM head on
// the CPU. The device is remote_backend.hpp's (its memory kills a host
// access), so these run anywhere: every fixture family gives the CPU
// backend's logits in prefill and decode; what crosses from the device per
// decode step is the residual stream (and MoE's expert ids), never logits;
// the paged KV cache keeps each part's layers in that part's memory through
// fork, copy-on-write, rewind and session read/write; a cache made for
// another placement is refused; and every byte on the device is given back.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "allm/error.hpp"
#include "engine_test_util.hpp"
#include "remote_backend.hpp"

namespace allm::test {
namespace {

std::unique_ptr<Model> make_split_model(const Checkpoint& ckpt, std::shared_ptr<Backend> device, int64_t gpu_layers) {
  load_arch_plugins();
  ModelOptions opt;
  opt.threads = 2;
  opt.backend = std::move(device);
  opt.gpu_layers = gpu_layers;
  return Registry::instance().architecture(ckpt.model_type)->create(ckpt, opt);
}

class SplitFixture : public ::testing::TestWithParam<std::string> {};

TEST_P(SplitFixture, FirstLayersOnTheDeviceGiveTheCpuBackendsLogits) {
  Checkpoint ckpt = load_fixture(GetParam());
  auto remote = std::make_shared<RemoteBackend>(2);
  {
    auto cpu = make_model(ckpt);
    auto model = make_split_model(ckpt, remote, 1);
    const ModelInfo& info = model->info();
    ASSERT_GE(info.layers, 2);
    EXPECT_EQ(info.backend, "remote-test (layers 0-0) + cpu (layers 1-" + std::to_string(info.layers - 1) + ")");
    EXPECT_GT(remote->resident(), 0);
    const int64_t V = info.vocab_size, H = info.hidden_size;
    std::vector<int32_t> prompt;
    for (int i = 0; i < 19; ++i) prompt.push_back((i * 37 + 11) % static_cast<int32_t>(V));
    const auto n = static_cast<int64_t>(prompt.size());

    auto cache = model->make_cache(), cpu_cache = cpu->make_cache();
    std::vector<float> got(static_cast<size_t>(n * V)), want(got.size());
    model->forward(prompt, *cache, LogitsMode::all, got.data());
    cpu->forward(prompt, *cpu_cache, LogitsMode::all, want.data());
    EXPECT_LE(max_diff(got, want), 1e-5);

    // Decode: the device's layer hands its residual stream to the CPU, which
    // makes the logits; the device sends back one hidden row (and, for MoE,
    // the layer's expert ids), not the logits.
    std::vector<float> last(static_cast<size_t>(V)), cpu_last(last.size());
    int32_t next = static_cast<int32_t>(std::max_element(got.end() - V, got.end()) - (got.end() - V));
    for (int step = 0; step < 5; ++step) {
      const uint64_t before = remote->downloaded();
      model->forward(std::vector<int32_t>{next}, *cache, LogitsMode::last, last.data());
      const uint64_t step_bytes = remote->downloaded() - before;
      EXPECT_GE(step_bytes, static_cast<uint64_t>(H) * 4) << "step " << step;
      EXPECT_LE(step_bytes, static_cast<uint64_t>(H) * 4 + 16 * 4) << "step " << step << ": more than the residual stream";
      cpu->forward(std::vector<int32_t>{next}, *cpu_cache, LogitsMode::last, cpu_last.data());
      EXPECT_LE(max_diff(last, cpu_last), 1e-5) << "step " << step;
      next = static_cast<int32_t>(std::max_element(last.begin(), last.end()) - last.begin());
    }

    // Two sequences of different lengths in one call.
    auto a = model->make_cache(), b = model->make_cache(), ca = cpu->make_cache(), cb = cpu->make_cache();
    const std::vector<int32_t> pa(prompt.begin(), prompt.begin() + 7), pb(prompt.begin() + 3, prompt.end());
    const BatchEntry batch[] = {{a.get(), pa, LogitsMode::last}, {b.get(), pb, LogitsMode::last}};
    const BatchEntry cpu_batch[] = {{ca.get(), pa, LogitsMode::last}, {cb.get(), pb, LogitsMode::last}};
    std::vector<float> two(static_cast<size_t>(2 * V)), cpu_two(two.size());
    model->forward(batch, two.data());
    cpu->forward(cpu_batch, cpu_two.data());
    EXPECT_LE(max_diff(two, cpu_two), 1e-5);
  }
  EXPECT_EQ(remote->resident(), 0);
  EXPECT_EQ(remote->live_allocations(), 0u);
  EXPECT_EQ(remote->bad_frees(), 0);
}

// Dense, tied embeddings, sliding windows and softcaps, MoE (the expert ids
// come back from the device part), sinks.
INSTANTIATE_TEST_SUITE_P(Families, SplitFixture,
                         ::testing::Values("llama", "qwen3", "gemma2", "qwen3_moe", "gpt_oss", "qwen3-mlx4"),
                         [](const auto& info) {
                           std::string n = info.param;
                           std::replace(n.begin(), n.end(), '-', '_');
                           return n;
                         });

// A shared pool of layer parts: a fork shares the prefix and copies the
// blocks it writes (each part in its own backend), a rewind truncates, and a
// session's rows of every layer read out and written into a fresh sequence
// continue as the original; everything equal to the CPU backend's run.
TEST(SplitModel, KVCacheInLayerPartsMatchesTheCpuBackend) {
  Checkpoint ckpt = load_fixture("qwen3");
  auto remote = std::make_shared<RemoteBackend>(2);
  {
    auto cpu = make_model(ckpt);
    auto model = make_split_model(ckpt, remote, 1);
    const int64_t V = model->info().vocab_size;
    std::vector<int32_t> prompt;
    for (int i = 0; i < 37; ++i) prompt.push_back((i * 29 + 5) % static_cast<int32_t>(V));
    auto script = [&](Model& m) {
      return kv_cache_script(m, KVType::f16, prompt, {7, 8, 9}, {11, 12, 13, 14}, {7, 8});
    };
    const auto got = script(*model), want = script(*cpu);
    EXPECT_LE(max_diff(got, want), 1e-5);
    const std::vector<float> restored(got.end() - 2 * V, got.end() - V), original(got.end() - V, got.end());
    EXPECT_LE(max_diff(restored, original), 1e-5);

    // The pool's parts: layer 0 in the device's memory, layer 1 in the host's.
    auto pool = model->make_pool(0, KVType::f32);
    ASSERT_EQ(pool->parts().size(), 2u);
    EXPECT_EQ(pool->parts()[1].first_layer, 1);
    EXPECT_EQ(&pool->backend(0), remote.get());
    EXPECT_EQ(pool->backend(1).memory_domain(), "host");
    EXPECT_FALSE(pool->in_host_memory());
  }
  EXPECT_EQ(remote->live_allocations(), 0u);
}

TEST(SplitModel, RefusesACacheMadeForAnotherPlacement) {
  Checkpoint ckpt = load_fixture("llama");
  auto remote = std::make_shared<RemoteBackend>(1);
  auto split = make_split_model(ckpt, remote, 1);
  auto whole = make_split_model(ckpt, remote, -1);
  std::vector<float> logits(static_cast<size_t>(split->info().vocab_size));
  for (auto [model, other] : {std::pair{split.get(), whole.get()}, std::pair{whole.get(), split.get()}}) {
    auto cache = other->make_cache();
    try {
      model->forward(std::vector<int32_t>{1, 2}, *cache, LogitsMode::last, logits.data());
      FAIL() << "a cache of the " << other->info().backend << " placement was accepted by the "
             << model->info().backend << " one";
    } catch (const InvalidArgumentError& e) {
      EXPECT_NE(std::string(e.what()).find("make it with the model's make_pool"), std::string::npos) << e.what();
    }
    EXPECT_EQ(cache->size(), 0);
  }
}

// 0 layers: the CPU runs the model and nothing is made resident on the
// device; N past the layer count, or any N with the CPU backend: one part.
TEST(SplitModel, ZeroLayersRunOnTheCpuAndTheWholeCountIsOnePart) {
  Checkpoint ckpt = load_fixture("llama");
  auto remote = std::make_shared<RemoteBackend>(1);
  {
    auto none = make_split_model(ckpt, remote, 0);
    EXPECT_EQ(none->info().backend, "cpu");
    EXPECT_EQ(remote->resident(), 0);
    EXPECT_TRUE(none->make_pool(0, KVType::f32)->in_host_memory());
    auto all = make_split_model(ckpt, remote, 99);
    EXPECT_EQ(all->info().backend, "remote-test");
    EXPECT_EQ(all->make_pool(0, KVType::f32)->parts().size(), 1u);
  }
  auto on_cpu = make_split_model(ckpt, make_cpu_backend(1), 1);
  EXPECT_EQ(on_cpu->info().backend, "cpu");
  EXPECT_EQ(remote->live_allocations(), 0u);
}

// A device too small for the model's weights: refused before any is
// uploaded, naming the --gpu-layers that fits; with that many, it loads.
TEST(SplitModel, ADeviceTooSmallIsRefusedNamingTheLayersThatFit) {
  Checkpoint ckpt = load_fixture("llama");
  auto remote = std::make_shared<RemoteBackend>(1);
  uint64_t one_layer = 0;  // what the embedding and layer 0 take there
  {
    auto probe = make_split_model(ckpt, remote, 1);
    one_layer = remote->live_bytes();
  }
  ASSERT_EQ(remote->live_allocations(), 0u);
  remote->set_capacity(one_layer + 1024);
  try {
    make_split_model(ckpt, remote, -1);
    FAIL() << "a model larger than the device was loaded";
  } catch (const OutOfMemoryError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("--gpu-layers 1 "), std::string::npos) << what;
    EXPECT_NE(what.find("remote-test"), std::string::npos) << what;
  }
  EXPECT_EQ(remote->live_allocations(), 0u);  // refused before anything was uploaded
  auto fits = make_split_model(ckpt, remote, 1);
  EXPECT_EQ(fits->info().backend.rfind("remote-test (layers 0-0)", 0), 0u) << fits->info().backend;
  remote->set_capacity(16);
  try {
    make_split_model(ckpt, remote, -1);
    FAIL() << "a model was loaded on a device with no room";
  } catch (const OutOfMemoryError& e) {
    EXPECT_NE(std::string(e.what()).find("--gpu-layers 0 "), std::string::npos) << e.what();
  }
}

TEST(KVPoolParts, RefusesPartsThatDoNotCoverTheLayersInOrder) {
  const KVShape shape{4, 2, 8, 64};
  auto cpu = make_cpu_backend(1);
  auto parts = [&](std::initializer_list<int64_t> firsts) {
    std::vector<KVLayerPart> p;
    for (int64_t f : firsts) p.push_back({cpu, f});
    return p;
  };
  for (auto bad : {parts({}), parts({1}), parts({0, 0}), parts({0, 3, 2}), parts({0, 4})})
    EXPECT_THROW(KVPool(shape, 0, KVType::f32, 16, bad), InvalidArgumentError);
  KVPool pool(shape, 0, KVType::f32, 16, parts({0, 1, 3}));
  EXPECT_EQ(pool.key_offset(0), 0);
  EXPECT_EQ(pool.key_offset(1), 0);  // each part's blocks start with its first layer
  EXPECT_EQ(pool.key_offset(2), pool.value_offset(1) + pool.head_stride() * 2);
  EXPECT_EQ(pool.key_offset(3), 0);
  const int32_t b = pool.take();
  EXPECT_NE(pool.data(b, 0), pool.data(b, 1));
  EXPECT_EQ(pool.data(b, 1), pool.data(b, 2));
  EXPECT_TRUE(pool.in_host_memory());
  pool.release(b);
}

}  // namespace
}  // namespace allm::test
