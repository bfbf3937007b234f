// RobertaProcessing / BertProcessing: `cls` before and `sep` after the
// sequence, each given as ["token", id].
#include "post_processor.hpp"

namespace allm::hf {

namespace {
class WrapPostProcessor : public PostProcessor {
 public:
  WrapPostProcessor(TokenId cls, TokenId sep) : cls_(cls), sep_(sep) {}
  void process(std::vector<TokenId>& ids) const override {
    ids.insert(ids.begin(), cls_);
    ids.push_back(sep_);
  }
  std::vector<TokenId> leading_ids() const override { return {cls_}; }

 private:
  TokenId cls_, sep_;
};

TokenId token_id(const JsonNode& pair) { return static_cast<TokenId>(pair.at(1).as_int()); }
}  // namespace

PostProcessorPtr make_roberta_post_processor(const JsonNode& node) {
  return std::make_unique<WrapPostProcessor>(token_id(node.at("cls")), token_id(node.at("sep")));
}

}  // namespace allm::hf
