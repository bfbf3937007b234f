// Maps a post-processor's `type` tag to its implementation.
#include <string_view>
#include <utility>

#include "post_processor.hpp"

namespace allm::hf {

PostProcessorPtr make_post_processor(const JsonNode& node) {
  static const std::pair<std::string_view, PostProcessorPtr (*)(const JsonNode&)> kTypes[] = {
      {"TemplateProcessing", make_template_post_processor},
      {"ByteLevel", make_byte_level_post_processor},
      {"RobertaProcessing", make_roberta_post_processor},
      {"BertProcessing", make_roberta_post_processor},
      {"Sequence", make_sequence_post_processor},
  };
  std::string type = node.type();
  for (auto& [name, make] : kTypes)
    if (name == type) return make(node);
  node.at("type").fail("unknown post-processor type '" + type + "'");
}

}  // namespace allm::hf
