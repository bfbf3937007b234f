// Integer dot products of stored rows with Q8-quantised activations. The
// scalar path decodes each block to codes (codes.hpp); SIMD paths for the
// formats that dominate real files live in dot_q8_x86.cpp and are chosen once
// at run time from CPUID.
#include <algorithm>
#include <cmath>
#include <string>

#include "allm/error.hpp"
#include "allm/gguf.hpp"
#include "gguf/codes.hpp"
#include "gguf/dot_q8_x86.hpp"
#include "gguf/types.hpp"

namespace allm::gguf {
using namespace detail;

void quantize_activations(const float* x, int64_t n, QuantizedActivations& out) {
  if (n % 32 != 0) throw InvalidArgumentError("quantize_activations: length " + std::to_string(n) + " is not a multiple of 32");
  out.n = n;
  out.scale.resize(size_t(n / 32));
  out.q.resize(size_t(n));
  out.bsum.resize(size_t(n / 16));
  if (x86_quantize_activations(x, n, out)) return;
  for (int64_t b = 0; b < n / 32; ++b) {
    const float* xb = x + 32 * b;
    float amax = 0;
    for (int i = 0; i < 32; ++i) amax = std::max(amax, std::fabs(xb[i]));
    float d = amax / 127.f, id = d ? 1.f / d : 0.f;
    out.scale[size_t(b)] = d;
    for (int h = 0; h < 2; ++h) {
      int sum = 0;
      for (int i = 16 * h; i < 16 * h + 16; ++i) {
        int q = int(std::lrintf(xb[i] * id));
        out.q[size_t(32 * b + i)] = int8_t(q);
        sum += q;
      }
      out.bsum[size_t(2 * b + h)] = int16_t(sum);
    }
  }
}

bool q8_dot_supported(DType t) noexcept { return decoded_block_elems(t) != 0; }

static float dot_scalar(DType t, const void* row, const Q8View& x, int64_t n) {
  int per = decoded_block_elems(t);
  DecodedBlock blk;
  float total = 0;
  for (int64_t b = 0; b < n / per; ++b) {
    decode_block(t, row, b, blk);
    const int8_t* xq = x.q + b * per;
    for (int g = 0; g < per / 16; ++g) {
      int s = 0;
      for (int i = 0; i < 16; ++i) s += int(blk.code[16 * g + i]) * int(xq[16 * g + i]);
      int64_t gi = b * (per / 16) + g;  // global 16-group
      float sx = x.scale[size_t(gi / 2)];
      total += sx * (blk.scale[g] * float(s) - blk.offset[g] * float(x.bsum[size_t(gi)]));
    }
  }
  return total;
}

float dot_row_q8(DType t, const void* row, const QuantizedActivations& x, int64_t n) {
  int per = decoded_block_elems(t);
  if (per == 0) throw UnsupportedError(std::string("dot_row_q8: no integer kernel for ") + format_name(t));
  if (n % per != 0 || n > x.n)
    throw InvalidArgumentError("dot_row_q8: row length " + std::to_string(n) + " does not fit " + format_name(t) +
                               " blocks / activations of length " + std::to_string(x.n));
  return dot_row_q8_unchecked(t, row, view_of(x), n);
}

float detail::dot_row_q8_unchecked(DType t, const void* row, const Q8View& x, int64_t n) {
  float r;
  if (x86_dot_row_q8(t, row, x, n, r)) return r;
  return dot_scalar(t, row, x, n);
}

const char* q8_dot_isa() noexcept { return x86_isa_name(); }

}  // namespace allm::gguf
