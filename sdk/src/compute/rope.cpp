// Rotary tables: cos/sin of position * inv_freq for one forward call.
#include <cmath>
#include <vector>

#include "allm/compute.hpp"

namespace allm {

void compute_rope_table(const RopeConfig& rope, const int64_t* positions, int64_t n, RopeTable& table) {
  const int64_t half = rope.rotary_dim / 2;
  table.tokens = n;
  table.half = half;
  table.cos.resize(static_cast<size_t>(n * half));
  table.sin.resize(static_cast<size_t>(n * half));
  for (int64_t t = 0; t < n; ++t) {
    // Same rounding as the reference: position and frequency multiplied in F32.
    const float pos = static_cast<float>(positions[t]);
    for (int64_t i = 0; i < half; ++i) {
      const float angle = pos * rope.inv_freq[i];
      table.cos[t * half + i] = std::cos(angle) * rope.attention_scale;
      table.sin[t * half + i] = std::sin(angle) * rope.attention_scale;
    }
  }
}

void compute_rope_table(const RopeConfig& rope, int64_t pos0, int64_t n, RopeTable& table) {
  std::vector<int64_t> positions(static_cast<size_t>(n));
  for (int64_t t = 0; t < n; ++t) positions[t] = pos0 + t;
  compute_rope_table(rope, positions.data(), n, table);
}

}  // namespace allm
