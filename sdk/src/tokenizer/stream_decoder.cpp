// StreamDecoder: decodes a growing window of ids and releases only text that
// can no longer change. Text ending in U+FFFD is held back, because the
// decoders turn an incomplete UTF-8 sequence (a byte-fallback token, part of
// an emoji) into U+FFFD until its remaining bytes arrive. After each release
// the window keeps the last few ids as context, so decoders that treat the
// first token specially (a leading-space strip) see the same thing they
// would when decoding the whole sequence (the prefix-decode technique).
#include <string_view>

#include "allm/tokenizer.hpp"

namespace allm {

namespace {
constexpr std::string_view kReplacement = "\xEF\xBF\xBD";
constexpr size_t kContextIds = 4;

bool ends_with_replacement(const std::string& s) {
  return s.size() >= kReplacement.size() && std::string_view(s).substr(s.size() - kReplacement.size()) == kReplacement;
}
}  // namespace

StreamDecoder::StreamDecoder(const Tokenizer& tokenizer, bool skip_special_tokens)
    : tokenizer_(&tokenizer), skip_special_(skip_special_tokens) {}

std::string StreamDecoder::push(TokenId id) {
  ids_.push_back(id);
  std::string text = tokenizer_->decode(ids_, skip_special_);
  if (text.size() <= emitted_bytes_ || ends_with_replacement(text)) return {};
  std::string out = text.substr(emitted_bytes_);
  emitted_bytes_ = text.size();
  // Slide the window: drop old ids, keeping kContextIds or a few more. The
  // kept window must not start inside a character (its decode would start
  // with U+FFFD, and a byte-fallback run could decode differently once cut);
  // when no clean cut is found nearby the window just stays longer.
  if (ids_.size() > 2 * kContextIds) {
    for (size_t keep = kContextIds; keep <= 2 * kContextIds; ++keep) {
      std::vector<TokenId> window(ids_.end() - static_cast<std::ptrdiff_t>(keep), ids_.end());
      std::string kept = tokenizer_->decode(window, skip_special_);
      if (kept.compare(0, kReplacement.size(), kReplacement) == 0) continue;
      ids_ = std::move(window);
      emitted_bytes_ = kept.size();
      break;
    }
  }
  return out;
}

std::string StreamDecoder::finish() {
  std::string text = tokenizer_->decode(ids_, skip_special_);
  std::string out = text.size() > emitted_bytes_ ? text.substr(emitted_bytes_) : std::string();
  reset();
  return out;
}

void StreamDecoder::reset() {
  ids_.clear();
  emitted_bytes_ = 0;
}

}  // namespace allm
