#include "kv_blob.hpp"

#include <cstring>
#include <string>

#include "allm/error.hpp"

namespace allm::local {

namespace {

constexpr char kMagic[8] = {'A', 'L', 'L', 'M', 'K', 'V', '0', '2'};
constexpr char kMagicNoShifts[8] = {'A', 'L', 'L', 'M', 'K', 'V', '0', '1'};  // before M-RoPE shifts were saved

template <class T>
void put(std::vector<uint8_t>& out, const T* p, size_t count) {
  // resize + memcpy: vector::insert of raw bytes trips a GCC 12 -Wstringop-overflow false positive.
  const size_t at = out.size(), n = sizeof(T) * count;
  if (n == 0) return;
  out.resize(at + n);
  std::memcpy(out.data() + at, p, n);
}

class Reader {
 public:
  explicit Reader(const std::vector<uint8_t>& b) : b_(b) {}
  template <class T>
  void get(T* p, size_t count) {
    const size_t n = sizeof(T) * count;
    if (count > b_.size() || n > b_.size() - at_)
      throw IoError("KV cache blob: truncated at byte " + std::to_string(at_) + " (needs " + std::to_string(n) +
                    " more bytes, has " + std::to_string(b_.size() - at_) + ")");
    std::memcpy(p, b_.data() + at_, n);
    at_ += n;
  }
  size_t at() const { return at_; }
  size_t size() const { return b_.size(); }

 private:
  const std::vector<uint8_t>& b_;
  size_t at_ = 0;
};

}  // namespace

std::vector<uint8_t> save_kv_blob(KVCache& cache, const std::vector<TokenId>& ids, const KVShape& s) {
  const uint64_t n = static_cast<uint64_t>(cache.size());
  if (ids.size() != n) throw InvalidArgumentError("KV cache blob: token list does not match the cache size");
  std::vector<uint8_t> out;
  out.reserve(48 + n * 4 + static_cast<size_t>(s.layers * 2 * s.kv_heads * s.head_dim) * n * 4);
  put(out, kMagic, 8);
  const uint64_t header[4] = {n, static_cast<uint64_t>(s.layers), static_cast<uint64_t>(s.kv_heads),
                              static_cast<uint64_t>(s.head_dim)};
  put(out, header, 4);
  put(out, ids.data(), ids.size());
  std::vector<float> row(static_cast<size_t>(n * s.head_dim));
  for (int64_t l = 0; l < s.layers; ++l)
    for (bool values : {false, true})
      for (int64_t h = 0; h < s.kv_heads; ++h) {
        cache.read(l, values, h, 0, static_cast<int64_t>(n), row.data());
        put(out, row.data(), row.size());
      }
  const auto& shifts = cache.rope_shifts();
  const uint64_t count = shifts.size();
  put(out, &count, 1);
  for (const auto& [from, shift] : shifts) {
    const int64_t pair[2] = {from, shift};
    put(out, pair, 2);
  }
  return out;
}

RestoredKv load_kv_blob(const std::vector<uint8_t>& blob, const Model& model, const KVShape& s) {
  Reader r(blob);
  char magic[8];
  r.get(magic, 8);
  const bool has_shifts = std::memcmp(magic, kMagic, 8) == 0;
  if (!has_shifts && std::memcmp(magic, kMagicNoShifts, 8) != 0)
    throw IoError("KV cache blob: bad magic at byte 0 (not an allm KV blob)");
  uint64_t header[4];
  r.get(header, 4);
  if (header[1] != static_cast<uint64_t>(s.layers) || header[2] != static_cast<uint64_t>(s.kv_heads) ||
      header[3] != static_cast<uint64_t>(s.head_dim))
    throw IoError("KV cache blob: shape at byte 16 (" + std::to_string(header[1]) + " layers, " +
                  std::to_string(header[2]) + " kv heads, head dim " + std::to_string(header[3]) +
                  ") does not match the model");
  const int64_t n = static_cast<int64_t>(header[0]);
  if (header[0] > blob.size()) throw IoError("KV cache blob: position count at byte 8 is larger than the blob");
  const uint64_t kv_bytes = header[0] * static_cast<uint64_t>(s.layers * 2 * s.kv_heads * s.head_dim) * 4;
  if (kv_bytes / 4 / static_cast<uint64_t>(s.layers * 2 * s.kv_heads * s.head_dim) != header[0] || kv_bytes > blob.size())
    throw IoError("KV cache blob: " + std::to_string(header[0]) + " positions at byte 8 need more bytes than the blob has");
  RestoredKv out;
  out.ids.resize(static_cast<size_t>(n));
  r.get(out.ids.data(), out.ids.size());
  out.cache = model.make_cache(std::max<int64_t>(n, 1));
  out.cache->reserve(n);
  std::vector<float> row(static_cast<size_t>(n * s.head_dim));
  for (int64_t l = 0; l < s.layers; ++l)
    for (bool values : {false, true})
      for (int64_t h = 0; h < s.kv_heads; ++h) {
        r.get(row.data(), row.size());
        out.cache->write(l, values, h, 0, n, row.data());
      }
  out.cache->advance(n);
  if (has_shifts) {
    uint64_t count = 0;
    const size_t count_at = r.at();
    r.get(&count, 1);
    if (count > static_cast<uint64_t>(n))
      throw IoError("KV cache blob: " + std::to_string(count) + " position shifts at byte " + std::to_string(count_at) +
                    " for " + std::to_string(n) + " positions");
    int64_t last = -1;
    for (uint64_t k = 0; k < count; ++k) {
      const size_t at = r.at();
      int64_t pair[2];
      r.get(pair, 2);
      if (pair[0] <= last || pair[0] > n)
        throw IoError("KV cache blob: position shift at byte " + std::to_string(at) + " starts at index " +
                      std::to_string(pair[0]) + " (expected increasing indexes within 0.." + std::to_string(n) + ")");
      out.cache->set_rope_shift(pair[0], pair[1]);
      last = pair[0];
    }
  }
  if (r.at() != r.size()) throw IoError("KV cache blob: " + std::to_string(r.size() - r.at()) + " stray bytes at byte " + std::to_string(r.at()));
  return out;
}

}  // namespace allm::local
