#pragma once
// PDF attachments: the text of every page, marked "--- page N ---".
#include "allm/media.hpp"

namespace allm::media {

class PdfHandler final : public MediaHandler {
 public:
  PdfHandler();
  std::string describe() const override;
  MediaKind kind() const override { return MediaKind::text; }
  // 100 when "%PDF-" appears in the first 1024 bytes, 50 for a .pdf name
  // without it (so load() can report the damage), else 0.
  int score(const std::filesystem::path& path, std::span<const uint8_t> head) const override;
  // Encrypted (password-protected), corrupt and text-less PDFs throw MediaError.
  MediaContent load(const std::filesystem::path& path, std::span<const uint8_t> bytes) const override;
};

}  // namespace allm::media
