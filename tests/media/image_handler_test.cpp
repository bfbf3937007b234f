#include <gtest/gtest.h>

#include "allm/error.hpp"
#include "image_handler.hpp"
#include "media_fixtures.hpp"

using namespace media_test;
using allm::MediaError;
using allm::media::ImageHandler;

TEST(ImageHandler, DecodesPngPixelsExactly) {
  auto c = load_with(ImageHandler{}, "pixels.png");
  EXPECT_EQ(c.kind, allm::MediaKind::image);
  EXPECT_EQ(c.mime, "image/png");
  ASSERT_EQ(c.image.width, 4);
  ASSERT_EQ(c.image.height, 3);
  ASSERT_EQ(c.image.channels, 3);
  ASSERT_EQ(c.image.pixels.size(), 4u * 3u * 3u);
  for (int y = 0; y < 3; ++y)
    for (int x = 0; x < 4; ++x) {
      const uint8_t* p = &c.image.pixels[static_cast<size_t>((y * 4 + x) * 3)];
      EXPECT_EQ(p[0], 60 * x);
      EXPECT_EQ(p[1], 100 * y);
      EXPECT_EQ(p[2], 200);
    }
}

TEST(ImageHandler, DecodesJpegApproximately) {
  auto c = load_with(ImageHandler{}, "solid.jpg");
  EXPECT_EQ(c.mime, "image/jpeg");
  ASSERT_EQ(c.image.width, 8);
  ASSERT_EQ(c.image.height, 8);
  ASSERT_EQ(c.image.channels, 3);
  const int want[3] = {200, 100, 50};
  for (size_t i = 0; i < c.image.pixels.size(); ++i) EXPECT_NEAR(c.image.pixels[i], want[i % 3], 6) << "byte " << i;
}

TEST(ImageHandler, ScoresBySignatureThenExtension) {
  ImageHandler h;
  auto png = read_all(data("pixels.png"));
  auto fake = read_all(data("not_really.png"));
  auto md = read_all(data("notes.md"));
  EXPECT_EQ(h.score("renamed.dat", png), 100);
  EXPECT_EQ(h.score(data("not_really.png"), fake), 50);
  EXPECT_EQ(h.score(data("notes.md"), md), 0);
}

TEST(ImageHandler, TextNamedPngIsAClearError) {
  try {
    load_with(ImageHandler{}, "not_really.png");
    FAIL() << "expected MediaError";
  } catch (const MediaError& e) {
    EXPECT_NE(std::string(e.what()).find("not_really.png: not a PNG or JPEG image"), std::string::npos) << e.what();
  }
}

TEST(ImageHandler, TruncatedPngIsCorrupt) {
  auto bytes = read_all(data("pixels.png"));
  bytes.resize(40);  // signature and IHDR, no pixel data
  try {
    ImageHandler{}.load("cut.png", bytes);
    FAIL() << "expected MediaError";
  } catch (const MediaError& e) {
    EXPECT_NE(std::string(e.what()).find("cut.png: corrupt PNG image"), std::string::npos) << e.what();
  }
}

TEST(ImageHandler, HugeDimensionsAreRefusedBeforeDecoding) {
  auto bytes = read_all(data("pixels.png"));
  // Patch IHDR width to 100000 (bytes 16..19); the CRC no longer matches but
  // stb_image reads the header before checking it.
  bytes[16] = 0x00;
  bytes[17] = 0x01;
  bytes[18] = 0x86;
  bytes[19] = 0xA0;
  try {
    ImageHandler{}.load("huge.png", bytes);
    FAIL() << "expected MediaError";
  } catch (const MediaError& e) {
    std::string m = e.what();
    EXPECT_EQ(m.rfind("huge.png: ", 0), 0u) << m;
  }
}

// The size limit is named for a huge and for an empty PNG alike (stb_image
// itself would only say "unknown image type").
TEST(ImageHandler, PngSizeOutsideTheLimitNamesTheSize) {
  auto expect_size_error = [](uint32_t width, const std::string& want) {
    auto bytes = read_all(data("pixels.png"));
    for (int i = 0; i < 4; ++i) bytes[16 + i] = static_cast<uint8_t>(width >> (24 - 8 * i));
    try {
      ImageHandler{}.load("sized.png", bytes);
      FAIL() << "expected MediaError for width " << width;
    } catch (const MediaError& e) {
      EXPECT_NE(std::string(e.what()).find(want), std::string::npos) << e.what();
    }
  };
  expect_size_error(100000, "sized.png: image is 100000x3 pixels, outside the limit of 1 to 8192 per side");
  expect_size_error(0, "sized.png: image is 0x3 pixels, outside the limit of 1 to 8192 per side");
  expect_size_error(0x7FFFFFFF, "image is 2147483647x3 pixels, outside the limit");
}
