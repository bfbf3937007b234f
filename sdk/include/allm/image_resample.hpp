#pragma once
// Image resizing exactly as transformers' default image processors do it
// (torchvision backend: torch's antialiased interpolation of uint8 images on
// the CPU), so pixel values match the checkpoint's processor.
//
// Per axis, each output pixel i takes the input pixels within `support` of
// center = (i + 0.5) * scale (scale = in / out; the filter is stretched by
// the scale when shrinking: antialiasing), weighted by the filter and
// normalised, the weights then turned into int16 fixed point with the
// largest precision that keeps the biggest weight below 2^15; the sum gets
// half an ulp, is shifted back and clamped to 0..255. Horizontal pass first
// (into a uint8 image), then vertical. Not PIL's arithmetic (22-bit
// coefficients): the two differ by one level at some pixels.
#include <string>

#include "allm/media.hpp"

namespace allm {

enum class ResampleFilter { bilinear, bicubic };

// Any channel count; throws MediaError for an empty or inconsistent image or target size.
ImageData resize_image(const ImageData& image, int width, int height, ResampleFilter filter);

// preprocessor_config.json's `resample` (PIL's codes): 2 bilinear, 3 bicubic.
// Others throw ModelLoadError naming `where`.
ResampleFilter resample_filter_from_pil(int code, const std::string& where);

}  // namespace allm
