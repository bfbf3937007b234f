#pragma once
// Post-processors add the special tokens of encode(text, add_special_tokens=true)
// (e.g. BOS). Only single sequences are encoded here.
#include <memory>
#include <vector>

#include "allm/tokenizer.hpp"
#include "json_node.hpp"

namespace allm::hf {

class PostProcessor {
 public:
  virtual ~PostProcessor() = default;
  virtual void process(std::vector<TokenId>& ids) const = 0;
  // The ids it puts before the sequence (e.g. BOS).
  virtual std::vector<TokenId> leading_ids() const = 0;
};

using PostProcessorPtr = std::unique_ptr<PostProcessor>;

PostProcessorPtr make_post_processor(const JsonNode& node);

PostProcessorPtr make_template_post_processor(const JsonNode& node);
PostProcessorPtr make_byte_level_post_processor(const JsonNode& node);
PostProcessorPtr make_roberta_post_processor(const JsonNode& node);
PostProcessorPtr make_sequence_post_processor(const JsonNode& node);

}  // namespace allm::hf
