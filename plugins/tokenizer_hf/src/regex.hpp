#pragma once
// PCRE2 regular expression compiled with UTF + UCP (so \p{L}, \s, \w follow
// Unicode) and JIT-compiled when the platform allows. Matching is thread-safe:
// each thread keeps its own match data.
#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

namespace allm::hf {

class Regex {
 public:
  // Throws std::invalid_argument with PCRE2's message and offset.
  explicit Regex(const std::string& pattern);
  ~Regex();
  Regex(const Regex&) = delete;
  Regex& operator=(const Regex&) = delete;

  // Calls fn(start, end) for each non-overlapping match in `text` (valid
  // UTF-8), left to right. An empty match advances by one character.
  template <class Fn>
  void for_each_match(std::string_view text, Fn&& fn) const {
    size_t pos = 0;
    size_t start, end;
    while (pos <= text.size() && find(text, pos, start, end)) {
      if (end == start) {
        fn(start, end);
        if (end >= text.size()) break;
        pos = end + 1;
        while (pos < text.size() && (static_cast<unsigned char>(text[pos]) & 0xC0) == 0x80) ++pos;
        continue;
      }
      fn(start, end);
      pos = end;
    }
  }

  // Finds the first match at or after `pos`.
  bool find(std::string_view text, size_t pos, size_t& start, size_t& end) const;
  const std::string& pattern() const { return pattern_; }

 private:
  std::string pattern_;
  void* code_ = nullptr;  // pcre2_code*
  bool jit_ = false;
};

}  // namespace allm::hf
