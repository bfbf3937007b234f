#pragma once
// One rotary pair of a head, as rope_table's table rotates it: pair i of
// `half` is (i, i + half) in NeoX order or (2i, 2i + 1) interleaved; the
// table row holds the cosines, then the sines. Shared by rope (in place)
// and kv_append (keys roped on their way into the cache).
#include <cstdint>

namespace allm::cuda {

__device__ __forceinline__ void rotary_pair_index(int64_t i, int64_t half, bool interleaved, int64_t& a, int64_t& b) {
  a = interleaved ? 2 * i : i;
  b = interleaved ? 2 * i + 1 : i + half;
}

// The pair (a, b) rotated: a c - b s and b c + a s, with the roundings
// spelled out so that every kernel that rotates gets the same bits.
__device__ __forceinline__ float rotated_first(float a, float b, float c, float s) {
  return __fmaf_rn(a, c, -__fmul_rn(b, s));
}
__device__ __forceinline__ float rotated_second(float a, float b, float c, float s) {
  return __fmaf_rn(b, c, __fmul_rn(a, s));
}

// Rotates pair i of the head at v in place.
__device__ __forceinline__ void rotate_pair(float* v, int64_t i, int64_t half, bool interleaved, const float* row) {
  int64_t ia, ib;
  rotary_pair_index(i, half, interleaved, ia, ib);
  const float c = row[i], s = row[half + i], a = v[ia], b = v[ib];
  v[ia] = rotated_first(a, b, c, s);
  v[ib] = rotated_second(a, b, c, s);
}

// Element e's rotated value, from it and its partner in the pair (a thread
// per element: the caller reads both before anyone writes). Elements past
// the rotary dims are returned as they are.
__device__ __forceinline__ float rotated_element(const float* v, int64_t e, int64_t half, bool interleaved,
                                                 const float* row) {
  if (e >= 2 * half) return v[e];
  const bool first = interleaved ? (e & 1) == 0 : e < half;
  const int64_t i = interleaved ? e / 2 : (first ? e : e - half);
  int64_t ia, ib;
  rotary_pair_index(i, half, interleaved, ia, ib);
  const float c = row[i], s = row[half + i], a = v[ia], b = v[ib];
  return first ? rotated_first(a, b, c, s) : rotated_second(a, b, c, s);
}

}  // namespace allm::cuda
