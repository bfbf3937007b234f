// libFuzzer entry for one media handler (chosen at compile time). The name
// given to the handler follows the handler's extension so extension-based
// paths are reached too.
#include <cstddef>
#include <cstdint>
#include <span>

#include "allm/error.hpp"

#if defined(FUZZ_MEDIA_text)
#include "text_handler.hpp"
using Handler = allm::media::TextHandler;
static const char* const kName = "fuzz.txt";
#elif defined(FUZZ_MEDIA_image)
#include "image_handler.hpp"
using Handler = allm::media::ImageHandler;
static const char* const kName = "fuzz.png";
#else
#include "pdf_handler.hpp"
using Handler = allm::media::PdfHandler;
static const char* const kName = "fuzz.pdf";
#endif

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const Handler handler;
  std::span<const uint8_t> bytes(data, size);
  (void)handler.score(kName, bytes.first(std::min(size, allm::kMediaSniffBytes)));
  try {
    allm::MediaContent c = handler.load(kName, bytes);
    if (c.kind == allm::MediaKind::image &&
        c.image.pixels.size() != static_cast<size_t>(c.image.width) * c.image.height * c.image.channels)
      __builtin_trap();  // decoded size must match the reported shape
  } catch (const allm::MediaError&) {
  }
  return 0;
}
