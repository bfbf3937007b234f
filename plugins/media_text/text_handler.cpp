#include "text_handler.hpp"

#include <cstdio>
#include <map>
#include <set>

#include "allm/error.hpp"

namespace allm::media {

namespace {

// Extension -> MIME type; anything listed is taken as text by name alone.
const std::map<std::string, std::string>& known_extensions() {
  static const std::map<std::string, std::string> m = [] {
    std::map<std::string, std::string> x = {
        {"txt", "text/plain"},         {"md", "text/markdown"},       {"markdown", "text/markdown"},
        {"rst", "text/x-rst"},         {"json", "application/json"},  {"jsonl", "application/jsonl"},
        {"csv", "text/csv"},           {"tsv", "text/tab-separated-values"},
        {"yaml", "application/yaml"},  {"yml", "application/yaml"},   {"toml", "application/toml"},
        {"xml", "application/xml"},    {"html", "text/html"},         {"htm", "text/html"},
        {"css", "text/css"},           {"js", "text/javascript"},     {"mjs", "text/javascript"},
        {"log", "text/plain"},         {"ini", "text/plain"},         {"cfg", "text/plain"},
        {"conf", "text/plain"},        {"tex", "text/x-tex"},         {"svg", "image/svg+xml"},
    };
    // Source code: all text/plain as far as the prompt is concerned.
    for (const char* ext : {"c", "h", "cc", "cpp", "cxx", "hpp", "hh", "hxx", "ipp", "inl", "py", "pyi", "java",
                            "kt", "kts", "go", "rs", "rb", "php", "pl", "pm", "sh", "bash", "zsh", "fish", "ps1",
                            "bat", "sql", "swift", "m", "mm", "cs", "fs", "scala", "lua", "r", "jl", "dart", "ts",
                            "tsx", "jsx", "vue", "svelte", "scss", "sass", "less", "proto", "cmake", "mk", "diff",
                            "patch", "env", "properties", "gradle", "hs", "ml", "ex", "exs", "erl", "clj", "nim",
                            "zig", "v", "vhd", "asm", "s", "f90", "pas", "bib", "srt", "vtt", "tf", "nix", "dockerfile"})
      x.emplace(ext, "text/plain");
    return x;
  }();
  return m;
}

// Extensionless (or oddly named) files that are text by convention.
bool known_file_name(const std::string& name) {
  static const std::set<std::string> names = {"Makefile", "makefile", "GNUmakefile", "Dockerfile", "Containerfile",
                                              "README", "LICENSE", "COPYING", "CHANGELOG", "NOTICE", "AUTHORS",
                                              "Gemfile", "Rakefile", "Vagrantfile", "Jenkinsfile", "Procfile",
                                              ".gitignore", ".gitattributes", ".editorconfig", ".clang-format"};
  return names.count(name) > 0;
}

std::string hex_byte(uint8_t b) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "0x%02X", b);
  return buf;
}

}  // namespace

std::string TextHandler::describe() const {
  return "text (.txt .md .json .csv .yaml .toml .xml .html .log .ini, source code, and any other UTF-8 text)";
}

int TextHandler::score(const std::filesystem::path& path, std::span<const uint8_t> head) const {
  if (known_extensions().count(lower_extension(path)) || known_file_name(path.filename().string())) return 50;
  return find_non_text_byte(head, true) == std::string::npos ? 10 : 0;
}

MediaContent TextHandler::load(const std::filesystem::path& path, std::span<const uint8_t> bytes) const {
  if (bytes.size() >= 2 && ((bytes[0] == 0xFF && bytes[1] == 0xFE) || (bytes[0] == 0xFE && bytes[1] == 0xFF)))
    throw MediaError(path.string() + ": UTF-16 text (byte-order mark at offset 0); convert it to UTF-8 first");
  size_t start = 0;
  if (bytes.size() >= 3 && bytes[0] == 0xEF && bytes[1] == 0xBB && bytes[2] == 0xBF) start = 3;  // BOM
  auto body_bytes = bytes.subspan(start);
  size_t bad = find_non_text_byte(body_bytes);
  if (bad != std::string::npos) {
    size_t offset = bad + start;
    if (bytes[offset] == 0)
      throw MediaError(path.string() + ": binary data, not text (NUL byte at offset " + std::to_string(offset) + ")");
    throw MediaError(path.string() + ": not UTF-8 text (invalid byte " + hex_byte(bytes[offset]) + " at offset " +
                     std::to_string(offset) + "); convert it to UTF-8 first");
  }
  std::string body;
  body.reserve(body_bytes.size());
  for (size_t i = 0; i < body_bytes.size(); ++i) {
    char c = static_cast<char>(body_bytes[i]);
    if (c == '\r' && i + 1 < body_bytes.size() && body_bytes[i + 1] == '\n') continue;
    body.push_back(c);
  }
  MediaContent out;
  out.kind = MediaKind::text;
  out.name = path.filename().string();
  out.source = path;
  auto it = known_extensions().find(lower_extension(path));
  out.mime = it != known_extensions().end() ? it->second : "text/plain";
  out.text = format_text_attachment(out.name, body);
  return out;
}

}  // namespace allm::media
