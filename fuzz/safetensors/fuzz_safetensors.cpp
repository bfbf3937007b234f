// Fuzzes parse_safetensors_header() with whole file images. Besides "no
// crash", it checks what the parser promises about what it accepts: every
// tensor lies inside the data region, sizes agree with shape x dtype, and no
// two tensors overlap. Seeds: fuzz/safetensors/corpus/.
//   fuzz_safetensors -max_len=8192 -max_total_time=300 corpus_dir fuzz/safetensors/corpus
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "allm/error.hpp"
#include "allm/safetensors.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    const allm::SafetensorsHeader h = allm::parse_safetensors_header(data, size, "fuzz.safetensors");
    if (h.data_offset < 8 || h.data_offset > size) std::abort();
    const uint64_t data_size = size - h.data_offset;
    uint64_t prev_end = 0;
    for (const auto& t : h.tensors) {  // sorted by offset
      if (t.begin > t.end || t.end > data_size || t.begin < prev_end) std::abort();
      uint64_t n = allm::dtype_size(t.dtype);
      for (auto d : t.shape) {
        if (d < 0) std::abort();
        n *= static_cast<uint64_t>(d);
      }
      if (n != t.end - t.begin) std::abort();
      // Read the first and last byte, as a kernel would.
      if (t.end > t.begin) {
        volatile uint8_t first = data[h.data_offset + t.begin];
        volatile uint8_t last = data[h.data_offset + t.end - 1];
        (void)first;
        (void)last;
      }
      prev_end = t.end;
    }
  } catch (const allm::Error&) {
    // Rejected with a typed error: the expected outcome for most inputs.
  }
  return 0;
}
