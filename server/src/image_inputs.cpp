#include "image_inputs.hpp"

#include <cstdint>
#include <fstream>
#include <random>

#include "allm/http.hpp"
#include "api_error.hpp"

namespace allm::server {

namespace fs = std::filesystem;

bool decode_base64(const std::string& text, std::string& out) {
  auto value = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+' || c == '-') return 62;  // '-' and '_': the URL-safe alphabet
    if (c == '/' || c == '_') return 63;
    return -1;
  };
  size_t end = text.size();
  while (end > 0 && text[end - 1] == '=') --end;
  if (text.size() - end > 2 || end % 4 == 1) return false;
  out.clear();
  out.reserve(end * 3 / 4);
  uint32_t acc = 0;
  int bits = 0;
  for (size_t i = 0; i < end; ++i) {
    const int v = value(text[i]);
    if (v < 0) return false;
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xff));
    }
  }
  return true;
}

std::string text_only_reason(const std::string& model, bool vision) {
  if (vision) return "";
  return "model '" + model + "' takes text only (it has no vision support; docs/vision.md)";
}

ImageInputs::ImageInputs(bool allow_urls, size_t max_bytes) : allow_urls_(allow_urls), max_bytes_(max_bytes) {}

ImageInputs::~ImageInputs() {
  std::error_code ec;
  if (!dir_.empty()) fs::remove_all(dir_, ec);
}

fs::path ImageInputs::write(const std::string& bytes) {
  if (dir_.empty()) {
    std::random_device rd;
    for (int attempt = 0; attempt < 8 && dir_.empty(); ++attempt) {
      const fs::path d = fs::temp_directory_path() / ("allm-images-" + std::to_string(rd()) + std::to_string(rd()));
      std::error_code ec;
      if (fs::create_directory(d, ec)) {
        fs::permissions(d, fs::perms::owner_all, fs::perm_options::replace, ec);
        dir_ = d;
      }
    }
    if (dir_.empty()) throw ApiError(500, "internal", "cannot create a temporary directory for the request's images");
  }
  // The media handlers recognise images by their signature; the name only
  // shows in their messages.
  const fs::path file = dir_ / ("image-" + std::to_string(files_.size() + 1));
  std::ofstream out(file, std::ios::binary);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (!out.flush()) throw ApiError(500, "internal", "cannot write the request's image to " + file.string());
  files_.push_back(file);
  return file;
}

// Only images go this way: a text or PDF file would otherwise be read as an
// attachment of its own kind (the handlers pick by content).
fs::path ImageInputs::write_image(const std::string& bytes, const std::string& where, const std::string& param) {
  const bool png = bytes.rfind("\x89PNG\r\n\x1a\n", 0) == 0;
  const bool jpeg = bytes.size() >= 3 && static_cast<uint8_t>(bytes[0]) == 0xFF && static_cast<uint8_t>(bytes[1]) == 0xD8 &&
                    static_cast<uint8_t>(bytes[2]) == 0xFF;
  if (!png && !jpeg) throw bad_request(where + " is not a PNG or JPEG image (no PNG/JPEG signature at offset 0)", param);
  return write(bytes);
}

fs::path ImageInputs::from_base64(const std::string& data, const std::string& where, const std::string& param) {
  std::string bytes;
  if (!decode_base64(data, bytes)) throw bad_request(where + " is not valid base64", param);
  if (bytes.empty()) throw bad_request(where + " is empty", param);
  return write_image(bytes, where, param);
}

fs::path ImageInputs::from_url(const std::string& url, const std::string& where, const std::string& param) {
  if (url.rfind("data:", 0) == 0) {
    const size_t comma = url.find(',');
    if (comma == std::string::npos) throw bad_request(where + ": a data URL needs a ',' before its data", param);
    const std::string head = url.substr(5, comma - 5);
    if (head.size() < 7 || head.compare(head.size() - 7, 7, ";base64") != 0)
      throw bad_request(where + ": only base64 data URLs are accepted (data:image/png;base64,...)", param);
    if (head.rfind("image/", 0) != 0)
      throw bad_request(where + ": the data URL's type is '" + head.substr(0, head.size() - 7) + "', not an image",
                        param);
    return from_base64(url.substr(comma + 1), where, param);
  }
  if (url.rfind("http://", 0) != 0 && url.rfind("https://", 0) != 0)
    throw bad_request(where + ": an image URL must be a data: URL (or http(s) with --allow-image-urls)", param);
  if (!allow_urls_)
    throw bad_request(where + ": this server does not fetch image URLs (start it with --allow-image-urls); send "
                      "the image as a data: URL",
                      param);
  ::allm::http::Request req;
  req.url = url;
  req.follow_redirects = true;
  req.connect_timeout_s = 10;
  req.deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  req.stall_seconds = 20;
  std::string body;
  bool too_big = false;
  req.on_body = [&](const char* data, size_t size, long) {
    if (body.size() + size > max_bytes_) return !(too_big = true);
    body.append(data, size);
    return true;
  };
  ::allm::http::Client client;
  const ::allm::http::Response r = client.perform(req);
  if (too_big)
    throw bad_request(where + ": the image at " + url + " is over " + std::to_string(max_bytes_) +
                      " bytes (config media.max_file_bytes)", param);
  if (r.curl_code != 0 || r.deadline_passed || r.stalled)
    throw bad_request(where + ": cannot fetch " + url + ": " +
                      (r.transport_error.empty() ? std::string("timed out") : r.transport_error), param);
  if (r.status < 200 || r.status >= 300)
    throw bad_request(where + ": fetching " + url + " answered HTTP " + std::to_string(r.status), param);
  if (body.empty()) throw bad_request(where + ": " + url + " returned no bytes", param);
  return write_image(body, where + " (" + url + ")", param);
}

}  // namespace allm::server
