#pragma once
// Shared helpers of the GGUF tests: data paths, plugin loading, models.
#include <cstring>
#include <filesystem>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "allm/architecture.hpp"
#include "allm/gguf.hpp"
#include "allm/registry.hpp"
#include "allm/tensor.hpp"
#include "gguf/blocks.hpp"
#include "../common/arch_plugins.hpp"

namespace allm::gguf::test {

inline std::filesystem::path data(const std::string& name) {
  return std::filesystem::path(ALLM_TEST_DATA_DIR) / "gguf" / name;
}

using allm::test::load_arch_plugins;

// The GGUF reader and writer learn each family's names and config keys from
// its architecture plugin (gguf_family.hpp): loaded before any test runs.
inline const bool kArchPluginsLoaded = (load_arch_plugins(), true);

inline std::unique_ptr<Model> make_model(const Checkpoint& ckpt, int threads = 2) {
  load_arch_plugins();
  ArchitectureFactory* f = Registry::instance().architecture(ckpt.model_type);
  if (!f) throw std::runtime_error("no architecture plugin for " + ckpt.model_type);
  ModelOptions opt;
  opt.threads = threads;
  return f->create(ckpt, opt);
}

template <class T>
std::vector<T> values(const Tensor& t) {
  const T* p = static_cast<const T*>(t.data);
  return std::vector<T>(p, p + t.numel());
}

// n elements of block type t as random bytes: a valid block of any type once
// its f16 scales are tamed (a matrix of rows x cols is random_row(t, rows*cols)).
inline std::vector<uint8_t> random_row(DType t, int64_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<uint8_t> row(row_bytes(t, n));
  for (auto& b : row) b = uint8_t(rng());
  auto fix_half = [&](size_t off) {
    uint16_t h = detail::float_to_half(std::uniform_real_distribution<float>(0.001f, 0.05f)(rng));
    std::memcpy(row.data() + off, &h, 2);
  };
  size_t bb = row_bytes(t, t == DType::Q2_K || t == DType::Q3_K || t == DType::Q4_K || t == DType::Q5_K ||
                                   t == DType::Q6_K ? 256 : 32);
  for (size_t b = 0; b < row.size(); b += bb) {
    switch (t) {
      case DType::Q4_0: case DType::Q5_0: case DType::Q8_0: fix_half(b); break;
      case DType::Q4_1: case DType::Q5_1: fix_half(b); fix_half(b + 2); break;
      case DType::Q4_K: case DType::Q5_K: fix_half(b); fix_half(b + 2); break;
      case DType::Q2_K: fix_half(b + 80); fix_half(b + 82); break;
      case DType::Q3_K: fix_half(b + 108); break;
      case DType::Q6_K: fix_half(b + 208); break;
      case DType::MXFP4: row[b] = uint8_t(118 + rng() % 8); break;  // scales 2^-10 .. 2^-3
      default: break;
    }
  }
  return row;
}

// Every NAME-TYPE.gguf under tests/data/gguf, as "NAME-TYPE".
inline std::vector<std::string> fixture_names() {
  std::vector<std::string> out;
  for (auto& e : std::filesystem::directory_iterator(data("")))
    if (e.path().extension() == ".gguf") out.push_back(e.path().stem().string());
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace allm::gguf::test
