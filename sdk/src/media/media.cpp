// Picking a media handler for an attachment and the checks every file gets
// before any handler sees it (exists, readable, not empty, not too big).
#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>

#include "allm/error.hpp"
#include "allm/media.hpp"
#include "allm/registry.hpp"

namespace allm {

namespace fs = std::filesystem;

const char* media_kind_name(MediaKind kind) noexcept {
  switch (kind) {
    case MediaKind::text: return "text";
    case MediaKind::image: return "image";
  }
  return "unknown";
}

MediaLimits MediaLimits::from_config(const nlohmann::json& config) {
  MediaLimits limits;
  auto media = config.find("media");
  if (media == config.end() || !media->is_object()) return limits;
  auto max = media->find("max_file_bytes");
  if (max == media->end()) return limits;
  if (!max->is_number_integer() || max->get<int64_t>() <= 0)
    throw ConfigError("media.max_file_bytes: expected a positive integer, got " + max->dump());
  limits.max_file_bytes = max->get<uint64_t>();
  return limits;
}

std::vector<NamedMediaHandler> registered_media_handlers() {
  std::vector<NamedMediaHandler> out;
  for (auto& e : Registry::instance().list(ALLM_KIND_MEDIA_HANDLER))
    out.push_back({e.name, static_cast<const MediaHandler*>(e.impl), e.plugin, e.path});
  return out;
}

MediaContent load_attachment(const fs::path& path, const MediaLimits& limits, const AttachmentCheck& before_load) {
  return load_attachment(path, limits, registered_media_handlers(), before_load);
}

namespace {

[[noreturn]] void fail(const fs::path& path, const std::string& reason) {
  throw MediaError(path.string() + ": " + reason);
}

std::string origin(const NamedMediaHandler& h) {
  if (h.plugin.empty() && h.path.empty()) return "(not from a plugin)";
  return "(plugin '" + h.plugin + "', " + h.path + ")";
}

// Runs one call into a handler; an exception that is not one of ours (a bug in
// a plugin) becomes a MediaError saying which handler, plugin and file threw.
template <class F>
auto call_handler(const NamedMediaHandler& h, const fs::path& file, const char* what, F&& call) {
  try {
    return call();
  } catch (const Error&) {
    throw;
  } catch (const std::exception& e) {
    throw MediaError(file.string() + ": media handler '" + h.name + "' " + origin(h) + " threw in " + what +
                     ": " + e.what());
  } catch (...) {
    throw MediaError(file.string() + ": media handler '" + h.name + "' " + origin(h) + " threw in " + what +
                     " (not a std::exception)");
  }
}

std::string handler_list(const std::vector<NamedMediaHandler>& handlers, const fs::path& file) {
  if (handlers.empty()) return "no media handlers are registered (are the media plugins loaded?)";
  std::string s = "registered handlers: ";
  for (size_t i = 0; i < handlers.size(); ++i)
    s += (i ? "; " : "") + handlers[i].name + " — " +
         call_handler(handlers[i], file, "describe()", [&] { return handlers[i].handler->describe(); });
  return s;
}

}  // namespace

MediaContent load_attachment(const fs::path& path, const MediaLimits& limits,
                             const std::vector<NamedMediaHandler>& handlers, const AttachmentCheck& before_load) {
  std::error_code ec;
  auto status = fs::status(path, ec);
  if (ec || !fs::exists(status)) fail(path, "cannot attach: no such file");
  if (fs::is_directory(status)) fail(path, "cannot attach: is a directory");
  // A pipe (stdin, <(command)) is read to its end, within the same limit.
  const bool stream = fs::is_fifo(status) || fs::is_character_file(status);
  if (!fs::is_regular_file(status) && !stream) fail(path, "cannot attach: not a regular file or a pipe");
  const auto over_limit = [&](uint64_t size) {
    fail(path, "cannot attach: the file is " + std::to_string(size) + " bytes, over the limit of " +
                   std::to_string(limits.max_file_bytes) + " bytes (config media.max_file_bytes)");
  };
  uint64_t size = 0;
  if (!stream) {
    size = fs::file_size(path, ec);
    if (ec) fail(path, "cannot attach: cannot read its size (" + ec.message() + ")");
    if (size == 0) fail(path, "cannot attach: the file is empty");
    if (size > limits.max_file_bytes) over_limit(size);
  }

  std::ifstream in(path, std::ios::binary);
  if (!in) fail(path, std::string("cannot attach: cannot open the file for reading (") + std::strerror(errno) + ")");
  std::vector<uint8_t> bytes;
  if (stream) {
    char buf[65536];
    while (in.read(buf, sizeof buf) || in.gcount() > 0) {
      bytes.insert(bytes.end(), buf, buf + in.gcount());
      if (bytes.size() > limits.max_file_bytes) over_limit(bytes.size());
    }
    if (bytes.empty()) fail(path, "cannot attach: the pipe gave no data");
  } else {
    bytes.resize(static_cast<size_t>(size));
    in.read(reinterpret_cast<char*>(bytes.data()), static_cast<std::streamsize>(size));
    if (in.gcount() != static_cast<std::streamsize>(size))
      fail(path, "cannot attach: read error (file changed while reading?)");
  }

  std::span<const uint8_t> head(bytes.data(), std::min<size_t>(bytes.size(), kMediaSniffBytes));
  const NamedMediaHandler* best = nullptr;
  int best_score = 0;
  for (auto& h : handlers) {
    int s = call_handler(h, path, "score()", [&] { return h.handler->score(path, head); });
    if (s > best_score) {
      best_score = s;
      best = &h;
    }
  }
  if (!best) {
    const bool binary = find_non_text_byte(head, true) != std::string::npos;
    fail(path, std::string(binary ? "binary file of a type no media handler accepts"
                                  : "no media handler accepts this file type") +
                   " (" + handler_list(handlers, path) + ")");
  }
  // Refused before load(): decoding an image only to drop it can cost far
  // more memory than the file's size.
  if (before_load) before_load(call_handler(*best, path, "kind()", [&] { return best->handler->kind(); }), path);
  MediaContent content = call_handler(*best, path, "load()", [&] { return best->handler->load(path, bytes); });
  content.handler = best->name;
  if (content.source.empty()) content.source = path;
  if (content.name.empty()) content.name = path.filename().string();
  return content;
}

std::string format_text_attachment(std::string_view name, std::string_view body) {
  std::string out;
  out.reserve(body.size() + 2 * name.size() + 48);
  out.append("--- file: ").append(name).append(" ---\n");
  out.append(body);
  if (!body.empty() && body.back() != '\n') out.push_back('\n');
  out.append("--- end of file: ").append(name).append(" ---\n");
  return out;
}

size_t find_non_text_byte(std::span<const uint8_t> b, bool allow_truncated_tail) {
  size_t i = 0;
  const size_t n = b.size();
  while (i < n) {
    uint8_t c = b[i];
    if (c == 0) return i;
    if (c < 0x80) {
      ++i;
      continue;
    }
    size_t len;
    uint32_t cp;
    if ((c & 0xE0) == 0xC0) len = 2, cp = c & 0x1F;
    else if ((c & 0xF0) == 0xE0) len = 3, cp = c & 0x0F;
    else if ((c & 0xF8) == 0xF0) len = 4, cp = c & 0x07;
    else return i;
    if (i + len > n) {
      // Check the bytes that are there, then accept the cut-off tail if allowed.
      for (size_t k = i + 1; k < n; ++k)
        if ((b[k] & 0xC0) != 0x80) return i;
      return allow_truncated_tail ? std::string::npos : i;
    }
    for (size_t k = 1; k < len; ++k) {
      if ((b[i + k] & 0xC0) != 0x80) return i;
      cp = (cp << 6) | (b[i + k] & 0x3F);
    }
    // Overlong forms, surrogates and values past U+10FFFF are not UTF-8.
    static constexpr uint32_t min_for_len[5] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < min_for_len[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return i;
    i += len;
  }
  return std::string::npos;
}

std::string lower_extension(const fs::path& path) {
  std::string ext = path.extension().string();
  if (!ext.empty() && ext[0] == '.') ext.erase(0, 1);
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return ext;
}

}  // namespace allm
