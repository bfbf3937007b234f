#include "image_handler.hpp"

#include <algorithm>
#include <climits>
#include <cstring>
#include <memory>
#include <mutex>

#include <stb_image.h>

#include "allm/error.hpp"
#include "png_guard.hpp"

namespace allm::media {

namespace {

bool is_png(std::span<const uint8_t> b) {
  static const uint8_t sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
  return b.size() >= 8 && std::memcmp(b.data(), sig, 8) == 0;
}

bool is_jpeg(std::span<const uint8_t> b) { return b.size() >= 3 && b[0] == 0xFF && b[1] == 0xD8 && b[2] == 0xFF; }

// stb_image reports failures through a process-wide string.
std::mutex stb_mutex;

}  // namespace

std::string ImageHandler::describe() const { return "image (.png .jpg .jpeg, decoded to pixels)"; }

int ImageHandler::score(const std::filesystem::path& path, std::span<const uint8_t> head) const {
  if (is_png(head) || is_jpeg(head)) return 100;
  std::string ext = lower_extension(path);
  return (ext == "png" || ext == "jpg" || ext == "jpeg") ? 50 : 0;
}

MediaContent ImageHandler::load(const std::filesystem::path& path, std::span<const uint8_t> bytes) const {
  const std::string where = path.string() + ": ";
  const bool png = is_png(bytes), jpeg = is_jpeg(bytes);
  if (!png && !jpeg)
    throw MediaError(where + "not a PNG or JPEG image (no PNG/JPEG signature at offset 0); only PNG and JPEG are supported");
  if (bytes.size() > static_cast<size_t>(INT_MAX)) throw MediaError(where + "image file too large to decode");

  auto check_size = [&](uint64_t w, uint64_t h) {
    if (w == 0 || h == 0 || w > uint64_t(kMaxSide) || h > uint64_t(kMaxSide) || w * h > uint64_t(kMaxPixels))
      throw MediaError(where + "image is " + std::to_string(w) + "x" + std::to_string(h) +
                       " pixels, outside the limit of 1 to " + std::to_string(kMaxSide) + " per side and " +
                       std::to_string(kMaxPixels) + " pixels");
  };
  // A PNG's own size is judged from its IHDR before any decoding (stb_image
  // refuses zero or huge dimensions only as "unknown image type").
  if (png) check_png_structure(bytes, where, check_size);

  std::lock_guard lock(stb_mutex);
  const int len = static_cast<int>(bytes.size());
  int w = 0, h = 0, channels = 0;
  if (!stbi_info_from_memory(bytes.data(), len, &w, &h, &channels))
    throw MediaError(where + "corrupt " + (png ? "PNG" : "JPEG") + " image: " + stbi_failure_reason());
  check_size(static_cast<uint64_t>(std::max(w, 0)), static_cast<uint64_t>(std::max(h, 0)));

  std::unique_ptr<stbi_uc, void (*)(void*)> pixels(stbi_load_from_memory(bytes.data(), len, &w, &h, &channels, 0),
                                                   stbi_image_free);
  if (!pixels) throw MediaError(where + "corrupt " + (png ? "PNG" : "JPEG") + " image: " + stbi_failure_reason());

  MediaContent out;
  out.kind = MediaKind::image;
  out.name = path.filename().string();
  out.source = path;
  out.mime = png ? "image/png" : "image/jpeg";
  out.image.width = w;
  out.image.height = h;
  out.image.channels = channels;
  const size_t n = static_cast<size_t>(w) * h * channels;
  out.image.pixels.assign(pixels.get(), pixels.get() + n);
  return out;
}

}  // namespace allm::media
