// Strip decoder: removes up to `start` leading and `stop` trailing copies of
// the `content` character from every token.
#include "decoder.hpp"
#include "utf8.hpp"

namespace allm::hf {

namespace {
class StripDecoder : public Decoder {
 public:
  StripDecoder(std::string content, size_t start, size_t stop) : content_(std::move(content)), start_(start), stop_(stop) {}
  void decode(std::vector<std::string>& tokens) const override {
    const size_t n = content_.size();
    for (auto& t : tokens) {
      size_t begin = 0, end = t.size();
      for (size_t k = 0; k < start_ && begin + n <= end && t.compare(begin, n, content_) == 0; ++k) begin += n;
      for (size_t k = 0; k < stop_ && end >= begin + n && t.compare(end - n, n, content_) == 0; ++k) end -= n;
      t = t.substr(begin, end - begin);
    }
  }

 private:
  std::string content_;
  size_t start_, stop_;
};
}  // namespace

DecoderPtr make_strip_decoder(const JsonNode& node) {
  std::string content = node.at("content").as_string();
  size_t i = 0;
  if (content.empty() || (utf8::next(content, i), i != content.size())) node.at("content").fail("expected one character");
  return std::make_unique<StripDecoder>(content, static_cast<size_t>(node.int_or("start", 0)),
                                        static_cast<size_t>(node.int_or("stop", 0)));
}

}  // namespace allm::hf
