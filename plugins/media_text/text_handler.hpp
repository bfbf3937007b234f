#pragma once
// Text files (source code, prose, data formats) attached as prompt text.
#include "allm/media.hpp"

namespace allm::media {

class TextHandler final : public MediaHandler {
 public:
  std::string describe() const override;
  MediaKind kind() const override { return MediaKind::text; }
  // 50 for a known text extension or file name, 10 for any other file whose
  // first bytes are UTF-8 text without NULs, 0 otherwise.
  int score(const std::filesystem::path& path, std::span<const uint8_t> head) const override;
  // Strips a UTF-8 BOM and turns CRLF into LF; binary or non-UTF-8 content
  // throws MediaError with the byte offset.
  MediaContent load(const std::filesystem::path& path, std::span<const uint8_t> bytes) const override;
};

}  // namespace allm::media
