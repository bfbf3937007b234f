#pragma once
// Media handlers: components (kind "media_handler") that turn an attached file
// into something a prompt can carry — text formatted with the file's name, or
// decoded image pixels. The host picks the handler with the highest score for
// a file (load_attachment); docs/media.md describes the formats and errors.
#include <cstdint>
#include <filesystem>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace allm {

enum class MediaKind { text, image };
const char* media_kind_name(MediaKind kind) noexcept;

struct ImageData {
  std::vector<uint8_t> pixels;  // row-major, interleaved, 8 bits per channel
  int width = 0;
  int height = 0;
  int channels = 0;             // 1 grey, 2 grey+alpha, 3 RGB, 4 RGBA
};

struct MediaContent {
  MediaKind kind = MediaKind::text;
  std::string name;                // file name shown to the model (no directories)
  std::filesystem::path source;    // where it was read from
  std::string mime;                // "text/markdown", "image/png", "application/pdf", ...
  std::string handler;             // registry name of the handler that loaded it
  // kind == text: the whole attachment as it goes into the prompt, framed by
  // format_text_attachment() (header line "--- file: NAME ---").
  std::string text;
  // kind == image:
  ImageData image;
};

struct MediaLimits {
  uint64_t max_file_bytes = 10ull * 1024 * 1024;  // config "media.max_file_bytes"
  // Reads "media.max_file_bytes" from a merged config (defaults kept when absent);
  // a non-positive or non-integer value throws ConfigError naming the key.
  static MediaLimits from_config(const nlohmann::json& config);
};

// How many leading bytes of a file handlers see when scoring it.
inline constexpr size_t kMediaSniffBytes = 4096;

class MediaHandler {
 public:
  virtual ~MediaHandler() = default;
  // Human-readable summary for error messages and `allm plugins`: e.g.
  // "text (.txt .md .json ... and other UTF-8 text)".
  virtual std::string describe() const = 0;
  // What load() produces. The host asks before load() runs, so a file the
  // caller cannot use (an image for a model without vision) is refused before
  // its pixels are decoded.
  virtual MediaKind kind() const = 0;
  // How well this handler fits the file: 0 = not at all. `head` holds the
  // first kMediaSniffBytes bytes (fewer for a short file). Convention: 100 for
  // a matching magic number, 50 for a known extension, 10 for a content guess.
  virtual int score(const std::filesystem::path& path, std::span<const uint8_t> head) const = 0;
  // Loads the whole file. `bytes` is its content (already size-checked).
  // Throws MediaError naming the file and the reason.
  virtual MediaContent load(const std::filesystem::path& path, std::span<const uint8_t> bytes) const = 0;
};

// A candidate handler with its registry name and where it came from (plugin
// name and file, for errors about a handler that throws).
struct NamedMediaHandler {
  NamedMediaHandler(std::string name_, const MediaHandler* handler_, std::string plugin_ = {}, std::string path_ = {})
      : name(std::move(name_)), handler(handler_), plugin(std::move(plugin_)), path(std::move(path_)) {}
  std::string name;
  const MediaHandler* handler = nullptr;
  std::string plugin;  // empty for a handler not from a plugin
  std::string path;
};

// Loads `path` with the best-scoring handler registered in the Registry.
// MediaError (naming the file) for: missing or unreadable file, a directory,
// an empty file, a file over limits.max_file_bytes, and a file no handler
// accepts (the message lists the handlers and says when the file is binary).
// A handler that throws anything but an allm::Error from score(), load() or
// describe() is reported as a MediaError naming the handler, its plugin and file.
// `before_load`, when set, is called with the chosen handler's kind() before
// its load() runs; it throws to refuse the file (Provider: an image for a model
// without vision).
using AttachmentCheck = std::function<void(MediaKind kind, const std::filesystem::path& path)>;
MediaContent load_attachment(const std::filesystem::path& path, const MediaLimits& limits = {},
                             const AttachmentCheck& before_load = {});
// Same, choosing among `handlers` only (tests, embedders with their own set).
MediaContent load_attachment(const std::filesystem::path& path, const MediaLimits& limits,
                             const std::vector<NamedMediaHandler>& handlers, const AttachmentCheck& before_load = {});
// Every media handler in the Registry.
std::vector<NamedMediaHandler> registered_media_handlers();

// Helpers for handler authors.
// "--- file: NAME ---\n" + body (with a final newline) + "--- end of file: NAME ---\n".
std::string format_text_attachment(std::string_view name, std::string_view body);
// Byte offset of the first invalid UTF-8 sequence or NUL byte, or npos when
// `bytes` is clean UTF-8 text. A sequence cut off at the very end counts as
// valid when `allow_truncated_tail` (a sniffed head may end mid-character).
size_t find_non_text_byte(std::span<const uint8_t> bytes, bool allow_truncated_tail = false);
// Lower-cased extension without the dot ("" when none).
std::string lower_extension(const std::filesystem::path& path);

}  // namespace allm
