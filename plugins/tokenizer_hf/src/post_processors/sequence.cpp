// Sequence: applies `processors` in order.
#include "post_processor.hpp"

namespace allm::hf {

namespace {
class SequencePostProcessor : public PostProcessor {
 public:
  explicit SequencePostProcessor(std::vector<PostProcessorPtr> steps) : steps_(std::move(steps)) {}
  void process(std::vector<TokenId>& ids) const override {
    for (auto& s : steps_) s->process(ids);
  }
  std::vector<TokenId> leading_ids() const override {
    std::vector<TokenId> ids;
    for (auto& step : steps_) {
      auto lead = step->leading_ids();
      ids.insert(ids.begin(), lead.begin(), lead.end());
    }
    return ids;
  }

 private:
  std::vector<PostProcessorPtr> steps_;
};
}  // namespace

PostProcessorPtr make_sequence_post_processor(const JsonNode& node) {
  auto list = node.at("processors");
  std::vector<PostProcessorPtr> steps;
  for (size_t i = 0; i < list.size(); ++i) steps.push_back(make_post_processor(list.at(i)));
  return std::make_unique<SequencePostProcessor>(std::move(steps));
}

}  // namespace allm::hf
