// Sequence: applies `normalizers` in order.
#include <vector>

#include "normalizer.hpp"

namespace allm::hf {

namespace {
class SequenceNormalizer : public Normalizer {
 public:
  explicit SequenceNormalizer(std::vector<NormalizerPtr> steps) : steps_(std::move(steps)) {}
  void normalize(std::string& text) const override {
    for (auto& step : steps_) step->normalize(text);
  }

 private:
  std::vector<NormalizerPtr> steps_;
};
}  // namespace

NormalizerPtr make_sequence_normalizer(const JsonNode& node) {
  auto list = node.at("normalizers");
  std::vector<NormalizerPtr> steps;
  for (size_t i = 0; i < list.size(); ++i) steps.push_back(make_normalizer(list.at(i)));
  return std::make_unique<SequenceNormalizer>(std::move(steps));
}

}  // namespace allm::hf
