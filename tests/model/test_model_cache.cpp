// The LRU model cache and the memory check.
#include <atomic>
#include <thread>

#include <gtest/gtest.h>

#include "allm/error.hpp"
#include "allm/model_loader.hpp"
#include "test_util.hpp"

namespace allm::test {
namespace {

struct FakeModel {
  std::string name;
  uint64_t memory_bytes() const { return 42; }
};

std::function<std::shared_ptr<FakeModel>()> loader(const std::string& name, int* calls) {
  return [name, calls] {
    ++*calls;
    return std::make_shared<FakeModel>(FakeModel{name});
  };
}

TEST(ModelCache, SecondRequestIsServedWithoutLoading) {
  ModelCache cache(2);
  int calls = 0;
  auto a1 = cache.get_or_load<FakeModel>("a", loader("a", &calls));
  auto a2 = cache.get_or_load<FakeModel>("a", loader("a", &calls));
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(a1.get(), a2.get());
  EXPECT_EQ(cache.loads(), 1u);
  auto list = cache.list();
  ASSERT_EQ(list.size(), 1u);
  EXPECT_EQ(list[0].key, "a");
  EXPECT_EQ(list[0].hits, 1u);
  EXPECT_EQ(list[0].bytes, 42u);
  EXPECT_NE(list[0].type.find("FakeModel"), std::string::npos);
}

TEST(ModelCache, EvictsTheLeastRecentlyUsed) {
  ModelCache cache(2);
  int calls = 0;
  cache.get_or_load<FakeModel>("a", loader("a", &calls));
  cache.get_or_load<FakeModel>("b", loader("b", &calls));
  cache.get_or_load<FakeModel>("a", loader("a", &calls));  // a is now the most recent
  auto kept_c = cache.get_or_load<FakeModel>("c", loader("c", &calls));
  EXPECT_EQ(calls, 3);
  EXPECT_TRUE(cache.contains("a"));
  EXPECT_FALSE(cache.contains("b"));
  EXPECT_TRUE(cache.contains("c"));
  auto list = cache.list();
  ASSERT_EQ(list.size(), 2u);
  EXPECT_EQ(list[0].key, "c");
  EXPECT_EQ(list[1].key, "a");
  cache.get_or_load<FakeModel>("b", loader("b", &calls));
  EXPECT_EQ(calls, 4);
}

TEST(ModelCache, UnloadClearCapacityAndTypes) {
  ModelCache cache(3);
  int calls = 0;
  auto held = cache.get_or_load<FakeModel>("a", loader("a", &calls));
  cache.get_or_load<FakeModel>("b", loader("b", &calls));
  EXPECT_TRUE(cache.unload("a"));
  EXPECT_FALSE(cache.unload("a"));
  EXPECT_EQ(held->name, "a");  // an evicted model lives on while held
  EXPECT_EQ(cache.find<FakeModel>("b")->name, "b");
  EXPECT_EQ(cache.find<FakeModel>("a"), nullptr);
  EXPECT_EQ(cache.find<int>("b"), nullptr);
  EXPECT_THROW(cache.get_or_load<int>("b", [] { return std::make_shared<int>(1); }), InvalidArgumentError);
  cache.clear();
  EXPECT_TRUE(cache.list().empty());
  cache.set_capacity(0);
  cache.get_or_load<FakeModel>("x", loader("x", &calls));
  cache.get_or_load<FakeModel>("x", loader("x", &calls));
  EXPECT_EQ(calls, 4);  // a, b, x, x: capacity 0 caches nothing
  EXPECT_EQ(cache.capacity(), 0u);
}

TEST(ModelCache, FailedLoadCachesNothing) {
  ModelCache cache(2);
  EXPECT_THROW(cache.get_or_load<FakeModel>("bad", []() -> std::shared_ptr<FakeModel> { throw ModelLoadError("boom"); }),
               ModelLoadError);
  EXPECT_FALSE(cache.contains("bad"));
  int calls = 0;
  cache.get_or_load<FakeModel>("bad", loader("bad", &calls));
  EXPECT_EQ(calls, 1);
}

TEST(ModelCache, ConcurrentRequestsShareOneLoad) {
  ModelCache cache(2);
  std::atomic<int> calls{0};
  std::vector<std::thread> threads;
  std::vector<std::shared_ptr<FakeModel>> got(8);
  for (int i = 0; i < 8; ++i)
    threads.emplace_back([&, i] {
      got[i] = cache.get_or_load<FakeModel>("m", [&] {
        ++calls;
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
        return std::make_shared<FakeModel>(FakeModel{"m"});
      });
    });
  for (auto& t : threads) t.join();
  EXPECT_EQ(calls.load(), 1);
  for (auto& g : got) EXPECT_EQ(g.get(), got[0].get());
}

TEST(ModelCache, CachedCheckpointLoads) {
  ModelCache cache(2);
  auto a = load_model_cached(fixture("qwen3").string(), {}, cache);
  auto b = load_model_cached(fixture("qwen3").string(), {}, cache);
  EXPECT_EQ(a.get(), b.get());
  EXPECT_EQ(cache.loads(), 1u);
  EXPECT_EQ(cache.list()[0].bytes, a->weights->total_bytes());
  EXPECT_EQ(model_cache_key("/m", {{"b", 1}, {"a", 2}}), "/m?{\"a\":2,\"b\":1}");
  EXPECT_EQ(model_cache_key("/m"), "/m");
}

TEST(MemoryCheck, KvCacheFormula) {
  nlohmann::json cfg = {{"num_hidden_layers", 2}, {"num_attention_heads", 4}, {"num_key_value_heads", 2},
                        {"head_dim", 32}, {"hidden_size", 64}};
  EXPECT_EQ(kv_cache_bytes(cfg, 1000), 2ull * 2 * 2 * 32 * 1000 * 4);
  cfg.erase("head_dim");
  cfg.erase("num_key_value_heads");
  EXPECT_EQ(kv_cache_bytes(cfg, 10), 2ull * 2 * 4 * 16 * 10 * 4);  // head_dim = hidden / heads
  EXPECT_EQ(kv_cache_bytes(cfg, int64_t{1} << 62), UINT64_MAX);
  EXPECT_EQ(kv_cache_bytes(nlohmann::json::object(), 10), 0u);
}

TEST(MemoryCheck, EstimatesFromFilesAndFromTheCheckpoint) {
  auto before = estimate_memory(fixture("qwen3"), 256);
  EXPECT_EQ(before.weight_bytes, std::filesystem::file_size(fixture("qwen3") / "model.safetensors"));
  EXPECT_EQ(before.kv_cache_bytes, 2ull * 2 * 2 * 32 * 256 * 4);
  EXPECT_TRUE(before.available_bytes.has_value());  // Linux: /proc/meminfo
  auto after = estimate_memory(load_checkpoint(fixture("qwen3")), 256);
  EXPECT_EQ(after.kv_cache_bytes, before.kv_cache_bytes);
  EXPECT_LE(after.weight_bytes, before.weight_bytes);
  EXPECT_NO_THROW(check_memory(before, "qwen3"));
}

TEST(MemoryCheck, RefusesWithBothNumbers) {
  MemoryEstimate e;
  e.weight_bytes = 3000;
  e.kv_cache_bytes = 2000;
  e.available_bytes = 4096;
  e.available_source = "test";
  auto msg = error_message<OutOfMemoryError>([&] { check_memory(e, "m"); });
  EXPECT_NE(msg.find("m: needs 5000 bytes"), std::string::npos) << msg;
  EXPECT_NE(msg.find("weights 3000 bytes"), std::string::npos) << msg;
  EXPECT_NE(msg.find("KV cache 2000 bytes"), std::string::npos) << msg;
  EXPECT_NE(msg.find("only 4096 bytes"), std::string::npos) << msg;
  e.available_bytes.reset();  // unknown: no refusal
  EXPECT_NO_THROW(check_memory(e, "m"));
}

TEST(MemoryCheck, LoadWithAHugeContextIsRefusedBeforeMapping) {
  LoadOptions opts;
  opts.context_length = int64_t{1} << 40;  // 2^40 tokens: petabytes of KV cache
  auto msg = error_message<OutOfMemoryError>([&] { load_checkpoint(fixture("qwen3"), opts); });
  EXPECT_NE(msg.find("KV cache"), std::string::npos) << msg;
  opts.context_length = 256;
  EXPECT_NO_THROW(load_checkpoint(fixture("qwen3"), opts));
}

}  // namespace
}  // namespace allm::test
