// The PNG structure check that runs before stb_image: every PNG libpng writes
// passes it (so its size arithmetic is exact for all colour types, bit depths
// and Adam7), while lying chunk lengths and zip bombs are refused with the
// chunk named, before any large allocation.
#include <gtest/gtest.h>
#include <png.h>
#include <zlib.h>

#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "allm/error.hpp"
#include "image_handler.hpp"
#include "png_guard.hpp"

using allm::MediaError;
using allm::media::check_png_structure;
using allm::media::ImageHandler;

namespace {

// Encodes random pixels with libpng (the reference encoder).
std::vector<uint8_t> libpng_encode(uint32_t w, uint32_t h, int depth, int color, bool interlaced, uint32_t seed) {
  std::vector<uint8_t> out;
  png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, nullptr, nullptr, nullptr);
  png_infop info = png_create_info_struct(png);
  if (setjmp(png_jmpbuf(png))) {
    png_destroy_write_struct(&png, &info);
    ADD_FAILURE() << "libpng failed to encode";
    return {};
  }
  png_set_write_fn(
      png, &out,
      [](png_structp p, png_bytep data, png_size_t n) {
        auto* v = static_cast<std::vector<uint8_t>*>(png_get_io_ptr(p));
        v->insert(v->end(), data, data + n);
      },
      nullptr);
  png_set_IHDR(png, info, w, h, depth, color, interlaced ? PNG_INTERLACE_ADAM7 : PNG_INTERLACE_NONE,
               PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  if (color == PNG_COLOR_TYPE_PALETTE) {
    std::vector<png_color> palette(size_t(1) << depth);
    for (size_t i = 0; i < palette.size(); ++i) palette[i] = {uint8_t(i * 7), uint8_t(i * 3), uint8_t(i)};
    png_set_PLTE(png, info, palette.data(), static_cast<int>(palette.size()));
  }
  png_write_info(png, info);
  const int channels = color == 2 ? 3 : color == 4 ? 2 : color == 6 ? 4 : 1;
  const size_t row_bytes = (size_t(w) * channels * depth + 7) / 8;
  std::mt19937 rng(seed);
  std::vector<std::vector<uint8_t>> rows(h, std::vector<uint8_t>(row_bytes));
  std::vector<png_bytep> row_ptrs;
  for (auto& r : rows) {
    for (auto& b : r) b = static_cast<uint8_t>(rng());
    row_ptrs.push_back(r.data());
  }
  png_write_image(png, row_ptrs.data());
  png_write_end(png, nullptr);
  png_destroy_write_struct(&png, &info);
  return out;
}

void put_be32(std::vector<uint8_t>& v, uint32_t x) {
  for (int s = 24; s >= 0; s -= 8) v.push_back(static_cast<uint8_t>(x >> s));
}

void put_chunk(std::vector<uint8_t>& v, const char* type, const std::vector<uint8_t>& data) {
  put_be32(v, static_cast<uint32_t>(data.size()));
  const size_t start = v.size();
  v.insert(v.end(), type, type + 4);
  v.insert(v.end(), data.begin(), data.end());
  put_be32(v, static_cast<uint32_t>(crc32(0, v.data() + start, static_cast<uInt>(v.size() - start))));
}

// A 4x3 RGB PNG whose single IDAT holds `image_data` compressed.
std::vector<uint8_t> png_with_image_data(const std::vector<uint8_t>& image_data) {
  std::vector<uint8_t> v = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
  std::vector<uint8_t> ihdr;
  put_be32(ihdr, 4);
  put_be32(ihdr, 3);
  ihdr.insert(ihdr.end(), {8, 2, 0, 0, 0});
  put_chunk(v, "IHDR", ihdr);
  uLongf size = compressBound(static_cast<uLong>(image_data.size()));
  std::vector<uint8_t> z(size);
  EXPECT_EQ(compress2(z.data(), &size, image_data.data(), static_cast<uLong>(image_data.size()), 9), Z_OK);
  z.resize(size);
  put_chunk(v, "IDAT", z);
  put_chunk(v, "IEND", {});
  return v;
}

std::string error_of(const std::vector<uint8_t>& bytes) {
  try {
    ImageHandler{}.load("x.png", bytes);
  } catch (const MediaError& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST(PngGuard, AcceptsEveryLibpngImageAndStbDecodesIt) {
  const std::pair<int, std::vector<int>> kinds[] = {
      {PNG_COLOR_TYPE_GRAY, {1, 2, 4, 8, 16}}, {PNG_COLOR_TYPE_RGB, {8, 16}},      {PNG_COLOR_TYPE_PALETTE, {1, 2, 4, 8}},
      {PNG_COLOR_TYPE_GRAY_ALPHA, {8, 16}},    {PNG_COLOR_TYPE_RGB_ALPHA, {8, 16}}};
  uint32_t seed = 1;
  for (const auto& [color, depths] : kinds)
    for (int depth : depths)
      for (bool interlaced : {false, true})
        for (uint32_t w : {1u, 2u, 3u, 5u, 8u, 9u, 13u})
          for (uint32_t h : {1u, 4u, 7u, 11u}) {
            auto bytes = libpng_encode(w, h, depth, color, interlaced, seed++);
            SCOPED_TRACE("color " + std::to_string(color) + " depth " + std::to_string(depth) + " interlaced " +
                         std::to_string(interlaced) + " " + std::to_string(w) + "x" + std::to_string(h));
            ASSERT_NO_THROW(check_png_structure(bytes, "t.png: "));
            auto c = ImageHandler{}.load("t.png", bytes);
            EXPECT_EQ(c.image.width, int(w));
            EXPECT_EQ(c.image.height, int(h));
          }
}

TEST(PngGuard, AChunkLongerThanTheFileIsNamedBeforeAnyAllocation) {
  // The libFuzzer find: a second IDAT declaring 0x5D000027 bytes (~1.5 GB) in
  // a 120-byte file made stb_image realloc 2 GB.
  auto bytes = png_with_image_data(std::vector<uint8_t>(3 * (1 + 4 * 3), 0));
  const size_t iend = bytes.size() - 12;
  std::vector<uint8_t> lying = {0x5D, 0x00, 0x00, 0x27, 'I', 'D', 'A', 'T', 1, 2, 3, 4};
  bytes.insert(bytes.begin() + static_cast<long>(iend), lying.begin(), lying.end());
  const std::string m = error_of(bytes);
  EXPECT_NE(m.find("x.png: corrupt PNG image: chunk 'IDAT' at byte " + std::to_string(iend) +
                   " declares 1560281127 bytes but only"),
            std::string::npos)
      << m;
}

TEST(PngGuard, ImageDataInflatingPastTheHeaderIsAZipBomb) {
  // 4x3 RGB needs 3 * (1 + 12) = 39 bytes; 16 MiB of zeros compress to ~16 KB.
  const std::string m = error_of(png_with_image_data(std::vector<uint8_t>(16u << 20, 0)));
  EXPECT_NE(m.find("x.png: PNG image data (IDAT chunk at byte 33) inflates to more than the 39 bytes its IHDR "
                   "header allows"),
            std::string::npos)
      << m;
  // Exactly the declared size decodes.
  EXPECT_EQ(error_of(png_with_image_data(std::vector<uint8_t>(39, 0))), "");
}

TEST(PngGuard, BadHeadersAndOrderAreNamed) {
  auto good = png_with_image_data(std::vector<uint8_t>(39, 0));
  auto bad_depth = good;
  bad_depth[24] = 3;  // RGB at 3 bits per sample is not a PNG
  EXPECT_NE(error_of(bad_depth).find("bit depth 3, colour type 2, interlace 0, which PNG does not define"),
            std::string::npos)
      << error_of(bad_depth);
  auto no_end = good;
  no_end.resize(no_end.size() - 12);
  EXPECT_NE(error_of(no_end).find("corrupt PNG image: truncated at byte"), std::string::npos) << error_of(no_end);
}
