// transformers' convert_to_rgb as the image processors apply it to a PIL image:
// RGB stays; anything else becomes RGBA and is composited over an opaque white
// background (Image.alpha_composite, PIL's 7-bit fixed-point arithmetic),
// then the alpha channel is dropped.
#include "allm/error.hpp"
#include "allm/vision.hpp"

namespace allm {

namespace {

// PIL's ImagingAlphaComposite for an opaque white destination.
uint8_t over_white(uint32_t c, uint32_t a) {
  if (a == 0) return 255;
  constexpr uint32_t kPrecision = 7;
  const uint32_t outa255 = a * 255 + 255 * (255 - a);
  const uint32_t coef1 = a * 255 * 255 * (1u << kPrecision) / outa255;
  const uint32_t coef2 = 255 * (1u << kPrecision) - coef1;
  const uint32_t tmp = c * coef1 + 255 * coef2 + (0x80u << kPrecision);
  return static_cast<uint8_t>((((tmp >> 8) + tmp) >> 8) >> kPrecision);
}

}  // namespace

ImageData image_to_rgb(const ImageData& in) {
  if (in.channels < 1 || in.channels > 4 || in.width <= 0 || in.height <= 0 ||
      in.pixels.size() != static_cast<size_t>(in.width) * in.height * in.channels)
    throw MediaError("image: " + std::to_string(in.width) + "x" + std::to_string(in.height) + " pixels with " +
                     std::to_string(in.channels) + " channels and " + std::to_string(in.pixels.size()) +
                     " bytes is not a valid 8-bit image");
  if (in.channels == 3) return in;
  ImageData out;
  out.width = in.width;
  out.height = in.height;
  out.channels = 3;
  const size_t n = static_cast<size_t>(in.width) * in.height;
  out.pixels.resize(n * 3);
  for (size_t i = 0; i < n; ++i) {
    const uint8_t* p = in.pixels.data() + i * in.channels;
    const bool grey = in.channels <= 2;
    const uint32_t alpha = in.channels == 2 ? p[1] : in.channels == 4 ? p[3] : 255;
    for (int c = 0; c < 3; ++c) {
      const uint32_t v = grey ? p[0] : p[c];
      out.pixels[i * 3 + c] = alpha == 255 ? static_cast<uint8_t>(v) : over_white(v, alpha);
    }
  }
  return out;
}

}  // namespace allm
