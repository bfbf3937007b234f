// Replace decoder: in every token, matches of `pattern` become `content`.
#include "decoder.hpp"
#include "pattern.hpp"

namespace allm::hf {

namespace {
class ReplaceDecoder : public Decoder {
 public:
  ReplaceDecoder(Pattern pattern, std::string content) : pattern_(std::move(pattern)), content_(std::move(content)) {}
  void decode(std::vector<std::string>& tokens) const override {
    for (auto& t : tokens) t = pattern_.replace_all(t, content_);
  }

 private:
  Pattern pattern_;
  std::string content_;
};
}  // namespace

DecoderPtr make_replace_decoder(const JsonNode& node) {
  return std::make_unique<ReplaceDecoder>(Pattern::from_json(node.at("pattern")), node.at("content").as_string());
}

}  // namespace allm::hf
