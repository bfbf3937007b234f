// ByteLevel post-processor: it only trims offsets, which this tokenizer does
// not report, so ids pass through unchanged.
#include "post_processor.hpp"

namespace allm::hf {

namespace {
class ByteLevelPostProcessor : public PostProcessor {
 public:
  void process(std::vector<TokenId>&) const override {}
  std::vector<TokenId> leading_ids() const override { return {}; }
};
}  // namespace

PostProcessorPtr make_byte_level_post_processor(const JsonNode&) { return std::make_unique<ByteLevelPostProcessor>(); }

}  // namespace allm::hf
