// ByteLevel: optional GPT-2 regex split and prefix space, then every byte of
// each piece is spelled in the byte-level alphabet.
#include <memory>
#include <string>

#include "byte_level_alphabet.hpp"
#include "pre_tokenizer.hpp"
#include "regex.hpp"

namespace allm::hf {

namespace {
const char* const kGpt2Pattern = R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

class ByteLevelPreTokenizer : public PreTokenizer {
 public:
  ByteLevelPreTokenizer(bool add_prefix_space, bool use_regex) : add_prefix_space_(add_prefix_space) {
    if (use_regex) regex_ = std::make_unique<Regex>(kGpt2Pattern);
  }

  void split(std::string_view text, bool at_start, PieceSink emit) const override {
    std::string prefixed;
    if (add_prefix_space_ && !text.empty() && text[0] != ' ') {
      prefixed.reserve(text.size() + 1);
      prefixed += ' ';
      prefixed += text;
      text = prefixed;
    }
    if (!regex_) {
      emit_encoded(text, at_start, emit);
      return;
    }
    size_t prev = 0;
    regex_->for_each_match(text, [&](size_t start, size_t end) {
      if (start > prev) emit_encoded(text.substr(prev, start - prev), at_start && prev == 0, emit);
      if (end > start) emit_encoded(text.substr(start, end - start), at_start && start == 0, emit);
      prev = end;
    });
    if (prev < text.size()) emit_encoded(text.substr(prev), at_start && prev == 0, emit);
  }

 private:
  static void emit_encoded(std::string_view piece, bool at_start, PieceSink emit) {
    std::string encoded;
    encoded.reserve(piece.size() * 2);
    byte_level::encode(piece, encoded);
    emit(encoded, at_start);
  }

  bool add_prefix_space_;
  std::unique_ptr<Regex> regex_;
};
}  // namespace

PreTokenizerPtr make_byte_level_pre_tokenizer(const JsonNode& node) {
  return std::make_unique<ByteLevelPreTokenizer>(node.bool_or("add_prefix_space", true), node.bool_or("use_regex", true));
}

}  // namespace allm::hf
