#include "corpus.hpp"

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace allm::bench {

namespace fs = std::filesystem;

namespace {

bool valid_utf8(const std::string& s) {
  size_t i = 0;
  while (i < s.size()) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    size_t n = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    if (n == 0 || i + n > s.size()) return false;
    for (size_t k = 1; k < n; ++k)
      if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return false;
    i += n;
  }
  return true;
}

// Appends the files under `dir` (sorted, optionally only those named `name`)
// until `budget` bytes were taken.
void take_files(const fs::path& dir, const std::string& name, size_t budget, std::string& out) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return;
  std::vector<fs::path> files;
  for (auto it = fs::recursive_directory_iterator(dir, fs::directory_options::skip_permission_denied, ec);
       it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (ec) break;
    if (it->is_regular_file(ec) && !it->is_symlink(ec) && (name.empty() || it->path().filename() == name))
      files.push_back(it->path());
  }
  std::sort(files.begin(), files.end());
  size_t taken = 0;
  for (auto& f : files) {
    if (taken >= budget) break;
    std::ifstream in(f, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    std::string text = ss.str();
    if (text.empty() || !valid_utf8(text)) continue;
    text = text.substr(0, budget - taken);
    while (!text.empty() && !valid_utf8(text)) text.pop_back();
    out += text;
    out += "\n\n";
    taken += text.size() + 2;
  }
}

void append_utf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

// Sentences of "words" drawn from a script's block; CJK draws from a small
// pool of frequent-looking characters so words repeat like real text does.
void generate_scripts(size_t budget, std::string& out) {
  uint64_t state = 0x9E3779B97F4A7C15ull;
  auto rnd = [&](uint32_t n) {
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    return static_cast<uint32_t>(state % n);
  };
  struct Script {
    uint32_t base, span;
    bool spaces;
  };
  const Script scripts[] = {{0x4E00, 3000, false}, {0x3041, 83, false}, {0xAC00, 2000, true},
                            {0x0430, 32, true},    {0x03B1, 25, true},  {0x0E01, 46, true}};
  size_t start = out.size();
  while (out.size() - start < budget) {
    const Script& s = scripts[rnd(6)];
    size_t words = 5 + rnd(15);
    for (size_t w = 0; w < words; ++w) {
      size_t len = 1 + rnd(s.spaces ? 7 : 4);
      for (size_t k = 0; k < len; ++k) append_utf8(out, s.base + rnd(s.span) % s.span);
      if (s.spaces) out += ' ';
      if (rnd(9) == 0) append_utf8(out, s.spaces ? ',' : 0x3001);
    }
    append_utf8(out, s.spaces ? '.' : 0x3002);
    out += rnd(4) == 0 ? "\n" : " ";
  }
}

}  // namespace

std::vector<std::string> build_corpus(size_t total_bytes, size_t chunk_bytes) {
  std::string prose, code, scripts;
  take_files("/usr/share/common-licenses", "", total_bytes * 2 / 5, prose);
  take_files("/usr/share/doc", "copyright", total_bytes * 2 / 5 - std::min(prose.size(), total_bytes * 2 / 5), prose);
  take_files("/usr/include/c++/12/bits", "", total_bytes * 2 / 5, code);
  if (code.empty()) take_files("/usr/include", "", total_bytes * 2 / 5, code);
  generate_scripts(total_bytes - std::min(total_bytes, prose.size() + code.size()), scripts);

  // Interleave the three sources in 16 KiB slices so every chunk is mixed,
  // then cut into chunks at line ends.
  std::string all;
  size_t p = 0, c = 0, s = 0;
  const size_t slice = 16 * 1024;
  auto take = [&](const std::string& src, size_t& pos) {
    if (pos >= src.size()) return;
    size_t end = std::min(src.size(), pos + slice);
    while (end < src.size() && src[end] != '\n') ++end;
    all.append(src, pos, end - pos);
    pos = end;
  };
  while (p < prose.size() || c < code.size() || s < scripts.size()) {
    take(prose, p);
    take(code, c);
    take(scripts, s);
  }
  std::vector<std::string> chunks;
  const size_t chunk = chunk_bytes;
  for (size_t pos = 0; pos < all.size();) {
    size_t end = std::min(all.size(), pos + chunk);
    while (end < all.size() && all[end - 1] != '\n') --end;
    if (end <= pos) {
      end = std::min(all.size(), pos + chunk);
      while (end < all.size() && (static_cast<unsigned char>(all[end]) & 0xC0) == 0x80) ++end;
    }
    chunks.push_back(all.substr(pos, end - pos));
    pos = end;
  }
  return chunks;
}

}  // namespace allm::bench
