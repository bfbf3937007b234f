#pragma once
// Shared helpers of the engine tests: fixture paths, plugin loading, models.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "allm/architecture.hpp"
#include "allm/kv_cache.hpp"
#include "allm/model_loader.hpp"
#include "allm/registry.hpp"
#include "../common/arch_plugins.hpp"

namespace allm::test {

inline std::filesystem::path fixture(const std::string& name) {
  return std::filesystem::path(ALLM_TEST_DATA_DIR) / "models" / name;
}

// The fixture's checkpoint, with config.v5.json instead of config.json when `v5`.
inline Checkpoint load_fixture(const std::string& name, bool v5 = false) {
  Checkpoint ckpt = load_checkpoint(fixture(name));
  if (v5) ckpt.config = read_config_file(fixture(name) / "config.v5.json");
  return ckpt;
}

inline std::unique_ptr<Model> make_model(const Checkpoint& ckpt, int threads = 2) {
  load_arch_plugins();
  ArchitectureFactory* f = Registry::instance().architecture(ckpt.model_type);
  if (!f) throw std::runtime_error("no architecture plugin for " + ckpt.model_type);
  ModelOptions opt;
  opt.threads = threads;
  return f->create(ckpt, opt);
}

// `count` token ids spread over [0, vocab): `seed` gives each sequence its own.
inline std::vector<int32_t> synthetic_tokens(int64_t count, int seed, int64_t vocab) {
  std::vector<int32_t> ids;
  for (int64_t i = 0; i < count; ++i) ids.push_back(static_cast<int32_t>((i * 31 + seed * 17 + 3) % vocab));
  return ids;
}

// The largest |a[i] - b[i]|; infinite when the sizes differ or a value is NaN.
inline double max_diff(const std::vector<float>& a, const std::vector<float>& b) {
  double worst = a.size() == b.size() ? 0 : INFINITY;
  for (size_t i = 0; i < std::min(a.size(), b.size()); ++i) {
    const double d = std::fabs(double(a[i]) - b[i]);
    worst = std::isnan(d) ? INFINITY : std::max(worst, d);
  }
  return worst;
}

// The paged KV cache's operations on `m`, in one shared pool of `type`:
// `prompt` into sequence a; a fork of a at position 20 (sharing its first
// blocks; 16 positions a block) fed `tail_b`; a fed `tail_a`; the fork
// rewound to position 18 and fed `rewind_tail`; then a session's rows of
// every layer and kv head read out of a and written into a fresh sequence,
// and token 3 fed to that copy and to a. Returns every logits row produced,
// in that order (the last two: the copy's and a's, which must agree).
inline std::vector<float> kv_cache_script(Model& m, KVType type, const std::vector<int32_t>& prompt,
                                          const std::vector<int32_t>& tail_a, const std::vector<int32_t>& tail_b,
                                          const std::vector<int32_t>& rewind_tail) {
  std::vector<float> rows, row(static_cast<size_t>(m.info().vocab_size));
  auto step = [&](KVCache& cache, const std::vector<int32_t>& tokens) {
    m.forward(tokens, cache, LogitsMode::last, row.data());
    rows.insert(rows.end(), row.begin(), row.end());
  };
  auto pool = m.make_pool(0, type);
  auto a = std::make_unique<KVCache>(pool);
  step(*a, prompt);
  auto b = a->fork(20);
  step(*b, tail_b);
  step(*a, tail_a);
  const BatchEntry rewind{b.get(), rewind_tail, LogitsMode::last, 18};
  m.forward(std::span<const BatchEntry>(&rewind, 1), row.data());
  rows.insert(rows.end(), row.begin(), row.end());
  auto c = std::make_unique<KVCache>(pool);
  const int64_t D = pool->shape().head_dim, P = a->size();
  std::vector<float> kv(static_cast<size_t>(P * D));
  for (int64_t l = 0; l < pool->shape().layers; ++l)
    for (bool values : {false, true})
      for (int64_t h = 0; h < pool->shape().kv_heads; ++h) {
        a->read(l, values, h, 0, P, kv.data());
        c->write(l, values, h, 0, P, kv.data());
      }
  c->advance(P);
  step(*c, {3});
  step(*a, {3});
  return rows;
}

}  // namespace allm::test
