#pragma once
// PCRE2 regular expression compiled with UTF + UCP (so \p{L}, \s, \w follow
// Unicode) and JIT-compiled when the platform allows. Matching is thread-safe:
// each thread keeps its own match data.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace allm::hf {

// Bounds the regex work of one encode. A pattern like `(a+)+$` backtracks
// exponentially within each match; PCRE2's per-match limit stops one match,
// but thousands of matches each just under it would still run for minutes.
// While a RegexBudget is active on a thread, every match there draws on its
// total of kBase + kPerByte x (input bytes) PCRE2 match-limit units (see
// Regex::find for what is charged); running out throws TokenizerError. Without one, each match_all call gets its own
// budget sized by its text.
class RegexBudget {
 public:
  static constexpr uint64_t kBase = 10'000'000;  // PCRE2's own default per-match limit
  static constexpr uint64_t kPerByte = 100;
  explicit RegexBudget(size_t input_bytes);
  ~RegexBudget();
  RegexBudget(const RegexBudget&) = delete;
  RegexBudget& operator=(const RegexBudget&) = delete;

  uint64_t remaining() const { return remaining_; }
  uint64_t total() const { return total_; }
  void spend(uint64_t units) { remaining_ = units > remaining_ ? 0 : remaining_ - units; }
  // The budget active on this thread, or nullptr.
  static RegexBudget* current();

 private:
  uint64_t total_;
  uint64_t remaining_;
  RegexBudget* saved_;
};

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
    std::optional<RegexBudget> own;
    if (!RegexBudget::current()) own.emplace(text.size());
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

  // Finds the first match at or after `pos`, drawing on the active
  // RegexBudget when there is one.
  bool find(std::string_view text, size_t pos, size_t& start, size_t& end) const;
  const std::string& pattern() const { return pattern_; }

 private:
  std::string pattern_;
  void* code_ = nullptr;  // pcre2_code*
  bool jit_ = false;
};

}  // namespace allm::hf
