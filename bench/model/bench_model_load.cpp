// First load vs cached second load of a checkpoint.
//
//   bench_model_load [--layers N] [--hidden H] [--dir EXISTING_CHECKPOINT]
//
// Without --dir it writes a llama-shaped random bf16 checkpoint (N layers,
// hidden size H, sharded in two files with an index) to a temporary
// directory. "first load" is load_checkpoint() through a fresh ModelCache
// (parse headers, map files, normalise config, build the tensor table) plus
// reading one byte per page of every tensor, which is what the first forward
// pass would fault in (the parse + map part is printed too); "cached" is the same request served by the cache.
// Prints medians and their ratio (target: cached at least 100x faster).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "allm/host/plugin_loader.hpp"
#include "allm/model_loader.hpp"
#include "allm/registry.hpp"

namespace fs = std::filesystem;
using json = nlohmann::json;
using Clock = std::chrono::steady_clock;

namespace {

struct Spec {
  std::string name;
  std::vector<int64_t> shape;
};

void write_shard(const fs::path& file, const std::vector<Spec>& specs, std::mt19937& rng) {
  json header = json::object();
  uint64_t offset = 0;
  for (const auto& s : specs) {
    uint64_t n = 2;
    for (auto d : s.shape) n *= static_cast<uint64_t>(d);
    header[s.name] = {{"dtype", "BF16"}, {"shape", s.shape}, {"data_offsets", {offset, offset + n}}};
    offset += n;
  }
  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');
  std::ofstream out(file, std::ios::binary);
  uint64_t len = text.size();
  for (int i = 0; i < 8; ++i) out.put(static_cast<char>((len >> (8 * i)) & 0xff));
  out << text;
  std::vector<uint16_t> buf(1 << 16);
  for (uint64_t left = offset / 2; left > 0;) {
    const size_t n = static_cast<size_t>(std::min<uint64_t>(left, buf.size()));
    for (size_t i = 0; i < n; ++i) buf[i] = static_cast<uint16_t>(0x3c00 + (rng() & 0x3ff));  // small bf16 values
    out.write(reinterpret_cast<const char*>(buf.data()), static_cast<std::streamsize>(n * 2));
    left -= n;
  }
}

fs::path make_checkpoint(const fs::path& dir, int layers, int hidden) {
  fs::create_directories(dir);
  const int inter = hidden * 4, vocab = 32000, heads = hidden / 64, kv = std::max(1, heads / 4);
  json cfg = {{"model_type", "llama"}, {"hidden_size", hidden}, {"intermediate_size", inter},
              {"num_hidden_layers", layers}, {"num_attention_heads", heads}, {"num_key_value_heads", kv},
              {"vocab_size", vocab}, {"torch_dtype", "bfloat16"}, {"rope_theta", 500000.0}, {"eos_token_id", 2}};
  std::ofstream(dir / "config.json") << cfg.dump(1);
  std::vector<Spec> a = {{"model.embed_tokens.weight", {vocab, hidden}}}, b = {{"lm_head.weight", {vocab, hidden}},
                                                                              {"model.norm.weight", {hidden}}};
  for (int l = 0; l < layers; ++l) {
    auto& shard = l < layers / 2 ? a : b;
    const std::string p = "model.layers." + std::to_string(l) + ".";
    const int64_t kvdim = int64_t{kv} * 64;
    for (auto s : std::vector<Spec>{{p + "self_attn.q_proj.weight", {hidden, hidden}},
                                    {p + "self_attn.k_proj.weight", {kvdim, hidden}},
                                    {p + "self_attn.v_proj.weight", {kvdim, hidden}},
                                    {p + "self_attn.o_proj.weight", {hidden, hidden}},
                                    {p + "mlp.gate_proj.weight", {inter, hidden}},
                                    {p + "mlp.up_proj.weight", {inter, hidden}},
                                    {p + "mlp.down_proj.weight", {hidden, inter}},
                                    {p + "input_layernorm.weight", {hidden}},
                                    {p + "post_attention_layernorm.weight", {hidden}}})
      shard.push_back(s);
  }
  std::mt19937 rng(7);
  write_shard(dir / "model-00001-of-00002.safetensors", a, rng);
  write_shard(dir / "model-00002-of-00002.safetensors", b, rng);
  json index = {{"metadata", json::object()}, {"weight_map", json::object()}};
  for (const auto& s : a) index["weight_map"][s.name] = "model-00001-of-00002.safetensors";
  for (const auto& s : b) index["weight_map"][s.name] = "model-00002-of-00002.safetensors";
  std::ofstream(dir / "model.safetensors.index.json") << index.dump(1);
  return dir;
}

// One byte per page of every tensor: what a first forward pass faults in.
uint64_t touch(const allm::Checkpoint& ck) {
  uint64_t sum = 0;
  for (const auto& name : ck.weights->names()) {
    const auto& t = ck.weights->get(name);
    const auto* p = static_cast<const uint8_t*>(t.data);
    for (size_t i = 0; i < t.nbytes; i += 4096) sum += p[i];
  }
  return sum;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  int layers = 16, hidden = 1024;
  fs::path dir;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--layers")) layers = std::atoi(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--hidden")) hidden = std::atoi(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--dir")) dir = argv[i + 1];
  }
  static allm::host::PluginLoader plugins(allm::Registry::instance());
  if (!plugins.load_file(ALLM_LOADER_PLUGIN, "bench").loaded) return 1;  // the reason is logged
  const bool generated = dir.empty();
  if (generated) dir = make_checkpoint(fs::temp_directory_path() / ("allm-bench-model-" + std::to_string(::getpid())), layers, hidden);

  uint64_t sink = 0;
  std::vector<double> first, mapped, cached;
  size_t tensors = 0;
  uint64_t bytes = 0;
  for (int round = 0; round < 5; ++round) {
    allm::ModelCache cache(2);
    auto t0 = Clock::now();
    auto ck = allm::load_model_cached(dir.string(), {}, cache);
    auto tm = Clock::now();
    sink += touch(*ck);
    auto t1 = Clock::now();
    first.push_back(std::chrono::duration<double, std::micro>(t1 - t0).count());
    mapped.push_back(std::chrono::duration<double, std::micro>(tm - t0).count());
    tensors = ck->weights->names().size();
    bytes = ck->weights->total_bytes();
    for (int i = 0; i < 200; ++i) {
      auto c0 = Clock::now();
      auto again = allm::load_model_cached(dir.string(), {}, cache);
      auto c1 = Clock::now();
      sink += again.get() == ck.get();
      cached.push_back(std::chrono::duration<double, std::micro>(c1 - c0).count());
    }
  }
  const double f = median(first), m = median(mapped), c = median(cached);
  std::printf("checkpoint: %s (%zu tensors, %.1f MiB)\n", dir.c_str(), tensors, static_cast<double>(bytes) / (1 << 20));
  std::printf("first load (load + fault in weights): %10.1f us (median of %zu)\n", f, first.size());
  std::printf("  of which parse + map only:          %10.1f us (ratio to cached %.0fx)\n", m, m / c);
  std::printf("cached load (model cache hit):        %10.3f us (median of %zu)\n", c, cached.size());
  std::printf("ratio first/cached: %.0fx (target >= 100x)   [sink %llu]\n", f / c, static_cast<unsigned long long>(sink % 10));
  if (generated) fs::remove_all(dir);
  return 0;
}
