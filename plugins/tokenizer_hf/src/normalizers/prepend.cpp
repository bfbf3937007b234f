// Prepend: puts `prepend` in front of every non-empty segment.
#include "normalizer.hpp"

namespace allm::hf {

namespace {
class PrependNormalizer : public Normalizer {
 public:
  explicit PrependNormalizer(std::string prefix) : prefix_(std::move(prefix)) {}
  void normalize(std::string& text) const override {
    if (!text.empty()) text.insert(0, prefix_);
  }

 private:
  std::string prefix_;
};
}  // namespace

NormalizerPtr make_prepend_normalizer(const JsonNode& node) {
  return std::make_unique<PrependNormalizer>(node.at("prepend").as_string());
}

}  // namespace allm::hf
