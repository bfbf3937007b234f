#include "png_guard.hpp"

#include <array>
#include <cstring>
#include <memory>

#include <zlib.h>

#include "allm/error.hpp"

namespace allm::media {

namespace {

uint32_t be32(const uint8_t* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | uint32_t{p[3]};
}

int channels_of(int color_type) {
  switch (color_type) {
    case 0: return 1;  // grey
    case 2: return 3;  // RGB
    case 3: return 1;  // palette index
    case 4: return 2;  // grey + alpha
    case 6: return 4;  // RGBA
    default: return 0;
  }
}

bool depth_allowed(int color_type, int bit_depth) {
  switch (color_type) {
    case 0: return bit_depth == 1 || bit_depth == 2 || bit_depth == 4 || bit_depth == 8 || bit_depth == 16;
    case 3: return bit_depth == 1 || bit_depth == 2 || bit_depth == 4 || bit_depth == 8;
    case 2: case 4: case 6: return bit_depth == 8 || bit_depth == 16;
    default: return false;
  }
}

// Counts what a zlib stream inflates to, refusing to go past `limit`.
class BoundedInflate {
 public:
  BoundedInflate(bool raw_deflate, uint64_t limit, const std::string& where) : limit_(limit), where_(where) {
    // Apple's CgBI PNGs store raw deflate data without the zlib header.
    if (inflateInit2(&z_, raw_deflate ? -MAX_WBITS : MAX_WBITS) != Z_OK)
      throw MediaError(where_ + "cannot start PNG decompression");
  }
  ~BoundedInflate() { inflateEnd(&z_); }
  BoundedInflate(const BoundedInflate&) = delete;
  BoundedInflate& operator=(const BoundedInflate&) = delete;

  void feed(const uint8_t* data, uint32_t size, size_t chunk_offset) {
    if (ended_) return;  // data after the stream's end: stb ignores it too
    z_.next_in = const_cast<Bytef*>(data);
    z_.avail_in = size;
    while (z_.avail_in > 0 && !ended_) {
      z_.next_out = scratch_.data();
      z_.avail_out = static_cast<uInt>(scratch_.size());
      const int rc = inflate(&z_, Z_NO_FLUSH);
      produced_ += scratch_.size() - z_.avail_out;
      if (produced_ > limit_)
        throw MediaError(where_ + "PNG image data (IDAT chunk at byte " + std::to_string(chunk_offset) +
                         ") inflates to more than the " + std::to_string(limit_) +
                         " bytes its IHDR header allows");
      if (rc == Z_STREAM_END) ended_ = true;
      else if (rc == Z_BUF_ERROR && z_.avail_in == 0) break;
      else if (rc != Z_OK)
        throw MediaError(where_ + "corrupt PNG image data (IDAT chunk at byte " + std::to_string(chunk_offset) +
                         "): " + (z_.msg ? z_.msg : "zlib error " + std::to_string(rc)));
    }
  }

 private:
  z_stream z_{};
  uint64_t limit_;
  uint64_t produced_ = 0;
  bool ended_ = false;
  const std::string& where_;
  std::array<Bytef, 64 * 1024> scratch_{};
};

}  // namespace

uint64_t png_raw_data_size(uint32_t width, uint32_t height, int bit_depth, int color_type, bool interlaced) {
  const int channels = channels_of(color_type);
  if (channels == 0 || !depth_allowed(color_type, bit_depth)) return 0;
  const uint64_t bits_per_pixel = uint64_t(channels) * uint64_t(bit_depth);
  auto pass_size = [&](uint64_t w, uint64_t h) -> uint64_t {
    if (w == 0 || h == 0) return 0;  // an empty Adam7 pass has no filter bytes either
    return h * (1 + (w * bits_per_pixel + 7) / 8);
  };
  if (!interlaced) return pass_size(width, height);
  // Adam7: (x0, y0, dx, dy) of each of the seven passes.
  static constexpr int pass[7][4] = {{0, 0, 8, 8}, {4, 0, 8, 8}, {0, 4, 4, 8}, {2, 0, 4, 4},
                                     {0, 2, 2, 4}, {1, 0, 2, 2}, {0, 1, 1, 2}};
  uint64_t total = 0;
  for (const auto& p : pass) {
    const uint64_t w = width > uint32_t(p[0]) ? (width - p[0] + p[2] - 1) / p[2] : 0;
    const uint64_t h = height > uint32_t(p[1]) ? (height - p[1] + p[3] - 1) / p[3] : 0;
    total += pass_size(w, h);
  }
  return total;
}

void check_png_structure(std::span<const uint8_t> b, const std::string& where,
                         const std::function<void(uint64_t, uint64_t)>& check_size) {
  size_t pos = 8;  // after the signature, which the caller has checked
  bool raw_deflate = false, seen_header = false;
  std::unique_ptr<BoundedInflate> image_data;
  while (true) {
    if (b.size() - pos < 12)
      throw MediaError(where + "corrupt PNG image: truncated at byte " + std::to_string(pos) +
                       " (no IEND chunk)");
    const uint32_t length = be32(b.data() + pos);
    char type[5] = {};
    std::memcpy(type, b.data() + pos + 4, 4);
    const uint8_t* data = b.data() + pos + 8;
    // The size first: a header's width and height are judged even when the
    // chunk around them is malformed (stb_image would only say "unknown type").
    if (check_size && !seen_header && std::memcmp(type, "IHDR", 4) == 0 && b.size() - pos >= 16)
      check_size(be32(data), be32(data + 4));
    if (length > b.size() - pos - 12)
      throw MediaError(where + "corrupt PNG image: chunk '" + std::string(type, strnlen(type, 4)) + "' at byte " +
                       std::to_string(pos) + " declares " + std::to_string(length) + " bytes but only " +
                       std::to_string(b.size() - pos - 12) + " follow");
    if (std::memcmp(type, "CgBI", 4) == 0) {
      raw_deflate = true;
    } else if (std::memcmp(type, "IHDR", 4) == 0) {
      if (seen_header || length != 13)
        throw MediaError(where + "corrupt PNG image: bad IHDR chunk at byte " + std::to_string(pos));
      seen_header = true;
      const uint32_t w = be32(data), h = be32(data + 4);
      const int depth = data[8], color = data[9], interlace = data[12];
      const uint64_t limit = interlace > 1 ? 0 : png_raw_data_size(w, h, depth, color, interlace == 1);
      if (limit == 0)
        throw MediaError(where + "corrupt PNG image: IHDR declares " + std::to_string(w) + "x" + std::to_string(h) +
                         ", bit depth " + std::to_string(depth) + ", colour type " + std::to_string(color) +
                         ", interlace " + std::to_string(interlace) + ", which PNG does not define");
      image_data = std::make_unique<BoundedInflate>(raw_deflate, limit, where);
    } else if (std::memcmp(type, "IDAT", 4) == 0) {
      if (!image_data)
        throw MediaError(where + "corrupt PNG image: IDAT chunk at byte " + std::to_string(pos) + " before IHDR");
      image_data->feed(data, length, pos);
    } else if (std::memcmp(type, "IEND", 4) == 0) {
      return;
    }
    pos += 12 + size_t(length);
  }
}

}  // namespace allm::media
