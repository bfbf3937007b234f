// Feeds arbitrary bytes to the GGUF reader; when a file parses, every tensor's
// first row is dequantised and the config and tokenizer.json are derived
// (under a stand-in family: the real ones come with the architecture plugins).
// Only allm's typed errors may escape the library.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "allm/error.hpp"
#include "allm/gguf.hpp"
#include "allm/gguf_family.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // The reader expects the data section 4-byte aligned in memory, as mmap gives.
  std::vector<uint8_t> copy(data, data + size);
  std::shared_ptr<allm::gguf::File> f;
  try {
    f = allm::gguf::File::parse(copy.data(), copy.size(), "fuzz.gguf");
  } catch (const allm::Error&) {
    return 0;
  }
  for (const auto& info : f->tensors()) {
    allm::Tensor t = f->view(info);
    int64_t cols = t.shape.back();
    if (cols > 4096 || !allm::gguf::kernels_support(t.dtype)) continue;
    std::vector<float> row(static_cast<size_t>(cols));
    allm::gguf::dequantize_row(t.dtype, t.data, row.data(), cols);
  }
  try {
    // Families come from architecture plugins, which the fuzzer does not
    // load: a stand-in family for the file's architecture keeps the shared
    // metadata parsing under test.
    if (auto arch = f->get_string("general.architecture"); arch && !allm::gguf::gguf_family_reading(*f, *arch)) {
      allm::gguf::GgufFamily stand_in;
      stand_in.model_type = "fuzz";
      stand_in.architecture = *arch;
      allm::gguf::register_gguf_family(stand_in);
    }
    allm::gguf::config_from_gguf(*f);
  } catch (const allm::Error&) {
  }
  try {
    allm::gguf::tokenizer_json_from_gguf(*f);
  } catch (const allm::Error&) {
  }
  return 0;
}
