#pragma once
// Images that arrive inside a request's JSON — OpenAI `image_url` parts (data
// URLs; http(s) URLs only with --allow-image-urls), Anthropic `image` blocks
// (base64, or a URL source under the same rule), Ollama `images` (base64) —
// are written to private temporary files and attached to their message, so
// the media handlers decode and check them exactly as they do `--file`:
// formats, decode limits, size limit, and the model's vision support. The
// files go when the request is done (the object lives in the InferenceRequest).
#include <filesystem>
#include <string>
#include <vector>

namespace allm::server {

class ImageInputs {
 public:
  // Fetched images are at most `max_bytes` (config media.max_file_bytes).
  ImageInputs(bool allow_urls, size_t max_bytes);
  ~ImageInputs();
  ImageInputs(const ImageInputs&) = delete;
  ImageInputs& operator=(const ImageInputs&) = delete;

  // Base64 text (standard alphabet; padding optional) -> a file. `where` names
  // the field for errors (400, param `param`).
  std::filesystem::path from_base64(const std::string& data, const std::string& where, const std::string& param);
  // "data:<mime>;base64,<data>", or an http(s) URL when allowed.
  std::filesystem::path from_url(const std::string& url, const std::string& where, const std::string& param);

 private:
  std::filesystem::path write(const std::string& bytes);
  std::filesystem::path write_image(const std::string& bytes, const std::string& where, const std::string& param);
  bool allow_urls_;
  size_t max_bytes_;
  std::filesystem::path dir_;
  std::vector<std::filesystem::path> files_;
};

// Why images are refused for `model` ("" when it sees): the tail of a 400.
std::string text_only_reason(const std::string& model, bool vision);

// Strict base64 decoding; nullopt-like failure is reported as false.
bool decode_base64(const std::string& text, std::string& out);

}  // namespace allm::server
