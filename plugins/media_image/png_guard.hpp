#pragma once
// Checks a PNG's structure before stb_image decodes it. stb_image trusts a
// chunk's declared length (it grows its buffer to a 1.5 GB IDAT that the file
// does not contain) and inflates image data without a bound (a few megabytes
// of zeros inflate to gigabytes), so a tiny hostile file could exhaust memory.
#include <cstdint>
#include <functional>
#include <span>
#include <string>

namespace allm::media {

// Throws MediaError (prefixed with `where`) when a chunk runs past the end of
// the file, IHDR is missing or malformed, or the image data inflates to more
// bytes than the header's width, height, colour type, bit depth and interlace
// method allow. Reads every byte once; allocates only a small scratch buffer.
// `check_size` (when given) is called with IHDR's width and height as soon as
// the header is reached, before IHDR itself or any later chunk is judged, so a
// caller's size limit is reported ahead of anything else wrong with the file.
void check_png_structure(std::span<const uint8_t> bytes, const std::string& where,
                         const std::function<void(uint64_t width, uint64_t height)>& check_size = {});

// The exact size of a PNG's filtered image data (filter bytes included), or 0
// for a colour type / bit depth combination that PNG does not define.
uint64_t png_raw_data_size(uint32_t width, uint32_t height, int bit_depth, int color_type, bool interlaced);

}  // namespace allm::media
