#pragma once
// PNG and JPEG attachments, decoded to 8-bit pixels for vision models.
#include "allm/media.hpp"

namespace allm::media {

class ImageHandler final : public MediaHandler {
 public:
  // Larger images are refused before decoding (a small file can inflate to
  // gigabytes of pixels); vision models downscale far below this anyway.
  static constexpr int kMaxSide = 8192;
  static constexpr uint64_t kMaxPixels = 32ull * 1024 * 1024;

  std::string describe() const override;
  MediaKind kind() const override { return MediaKind::image; }
  // 100 when the bytes start with a PNG or JPEG signature, 50 for a .png,
  // .jpg or .jpeg name without one (so load() can say what is wrong), else 0.
  int score(const std::filesystem::path& path, std::span<const uint8_t> head) const override;
  MediaContent load(const std::filesystem::path& path, std::span<const uint8_t> bytes) const override;
};

}  // namespace allm::media
