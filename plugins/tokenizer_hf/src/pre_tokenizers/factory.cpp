// Maps a pre-tokenizer's `type` tag to its implementation.
#include <string_view>
#include <utility>

#include "pre_tokenizer.hpp"

namespace allm::hf {

PreTokenizerPtr make_pre_tokenizer(const JsonNode& node) {
  static const std::pair<std::string_view, PreTokenizerPtr (*)(const JsonNode&)> kTypes[] = {
      {"Split", make_split_pre_tokenizer},
      {"ByteLevel", make_byte_level_pre_tokenizer},
      {"Metaspace", make_metaspace_pre_tokenizer},
      {"Digits", make_digits_pre_tokenizer},
      {"Punctuation", make_punctuation_pre_tokenizer},
      {"Whitespace", make_whitespace_pre_tokenizer},
      {"WhitespaceSplit", make_whitespace_split_pre_tokenizer},
      {"BertPreTokenizer", make_bert_pre_tokenizer},
      {"Sequence", make_sequence_pre_tokenizer},
  };
  std::string type = node.type();
  for (auto& [name, make] : kTypes)
    if (name == type) return make(node);
  node.at("type").fail("unknown pre-tokenizer type '" + type + "'");
}

}  // namespace allm::hf
