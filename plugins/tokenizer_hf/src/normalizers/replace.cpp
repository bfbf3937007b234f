// Replace: every match of `pattern` becomes `content`.
#include "normalizer.hpp"
#include "pattern.hpp"

namespace allm::hf {

namespace {
class ReplaceNormalizer : public Normalizer {
 public:
  ReplaceNormalizer(Pattern pattern, std::string content) : pattern_(std::move(pattern)), content_(std::move(content)) {}
  void normalize(std::string& text) const override { text = pattern_.replace_all(text, content_); }

 private:
  Pattern pattern_;
  std::string content_;
};
}  // namespace

NormalizerPtr make_replace_normalizer(const JsonNode& node) {
  return std::make_unique<ReplaceNormalizer>(Pattern::from_json(node.at("pattern")), node.at("content").as_string());
}

}  // namespace allm::hf
