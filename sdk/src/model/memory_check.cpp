// Refusing to load a model that cannot fit: weights + KV cache against the
// memory the kernel (and the cgroup, in a container) will still give us.
#include <algorithm>
#include <fstream>
#include <sstream>

#include "allm/error.hpp"
#include "allm/model_loader.hpp"
#include "safetensors_checkpoint.hpp"

namespace allm {

namespace fs = std::filesystem;

namespace {

int64_t int_field(const nlohmann::json& cfg, const char* key) {
  auto it = cfg.find(key);
  return it != cfg.end() && it->is_number_integer() ? it->get<int64_t>() : 0;
}

std::optional<uint64_t> read_number_file(const fs::path& file) {
  std::ifstream in(file);
  std::string s;
  if (!(in >> s) || s == "max") return std::nullopt;
  try {
    return std::stoull(s);
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

std::optional<uint64_t> mem_available() {
  std::ifstream in("/proc/meminfo");
  std::string key;
  uint64_t kb = 0;
  std::string unit;
  while (in >> key >> kb) {
    std::getline(in, unit);
    if (key == "MemAvailable:") return kb * 1024;
  }
  return std::nullopt;
}

// Headroom left under this process's cgroup limit (v2, else v1).
std::optional<uint64_t> cgroup_headroom() {
  std::ifstream in("/proc/self/cgroup");
  std::string line;
  while (std::getline(in, line)) {
    if (!line.starts_with("0::")) continue;
    const fs::path dir = fs::path("/sys/fs/cgroup") / fs::path(line.substr(3)).relative_path();
    auto max = read_number_file(dir / "memory.max");
    if (!max) return std::nullopt;
    uint64_t used = read_number_file(dir / "memory.current").value_or(0);
    return *max > used ? *max - used : 0;
  }
  auto limit = read_number_file("/sys/fs/cgroup/memory/memory.limit_in_bytes");
  if (!limit || *limit >= (uint64_t{1} << 60)) return std::nullopt;  // v1 "unlimited" is a huge number
  uint64_t used = read_number_file("/sys/fs/cgroup/memory/memory.usage_in_bytes").value_or(0);
  return *limit > used ? *limit - used : 0;
}

std::string gib(uint64_t bytes) {
  std::ostringstream os;
  os.precision(2);
  os << std::fixed << static_cast<double>(bytes) / (1024.0 * 1024.0 * 1024.0) << " GiB";
  return std::to_string(bytes) + " bytes (" + os.str() + ")";
}

}  // namespace

uint64_t kv_cache_bytes(const nlohmann::json& config, int64_t context_length) {
  const int64_t layers = int_field(config, "num_hidden_layers");
  const int64_t heads = int_field(config, "num_attention_heads");
  int64_t kv_heads = int_field(config, "num_key_value_heads");
  if (kv_heads == 0) kv_heads = heads;
  int64_t head_dim = int_field(config, "head_dim");
  if (head_dim == 0 && heads > 0) head_dim = int_field(config, "hidden_size") / heads;
  if (layers <= 0 || kv_heads <= 0 || head_dim <= 0 || context_length <= 0) return 0;
  unsigned __int128 n = 2u * 4u;  // K and V, 4 bytes each
  for (int64_t f : {layers, kv_heads, head_dim, context_length}) {
    n *= static_cast<uint64_t>(f);
    if (n > UINT64_MAX) return UINT64_MAX;  // saturate: certainly too big
  }
  return static_cast<uint64_t>(n);
}

std::optional<uint64_t> available_memory_bytes(std::string* source) {
  auto avail = mem_available();
  auto cg = cgroup_headroom();
  if (avail && (!cg || *avail <= *cg)) {
    if (source) *source = "MemAvailable in /proc/meminfo";
    return avail;
  }
  if (cg) {
    if (source) *source = "cgroup memory limit minus current usage";
    return cg;
  }
  return std::nullopt;
}

MemoryEstimate estimate_memory(const fs::path& model, int64_t context_length) {
  MemoryEstimate e;
  if (fs::is_directory(model)) {
    for (const auto& f : detail::weight_files(model)) e.weight_bytes += fs::file_size(f);
    e.kv_cache_bytes = kv_cache_bytes(read_config_file(model / "config.json"), context_length);
  } else {
    e.weight_bytes = fs::file_size(model);
  }
  e.available_bytes = available_memory_bytes(&e.available_source);
  return e;
}

MemoryEstimate estimate_memory(const Checkpoint& checkpoint, int64_t context_length) {
  MemoryEstimate e;
  e.weight_bytes = checkpoint.weights ? checkpoint.weights->total_bytes() : 0;
  e.kv_cache_bytes = kv_cache_bytes(checkpoint.config, context_length);
  e.available_bytes = available_memory_bytes(&e.available_source);
  return e;
}

void check_memory(const MemoryEstimate& e, const std::string& what) {
  if (!e.available_bytes || e.required_bytes() <= *e.available_bytes) return;
  throw OutOfMemoryError(what + ": needs " + gib(e.required_bytes()) + " (weights " + gib(e.weight_bytes) +
                         " + KV cache " + gib(e.kv_cache_bytes) + ") but only " + gib(*e.available_bytes) +
                         " is available (" + e.available_source + "); use a smaller context or model");
}

}  // namespace allm
