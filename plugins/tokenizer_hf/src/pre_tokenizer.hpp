#pragma once
// Pre-tokenizers cut a normalized segment into pieces ("words") that the
// model encodes independently. Stages stream: each piece goes straight to the
// next stage through `emit`, so no intermediate lists are built. A piece's
// `at_start` flag says it begins at offset 0 of the original input (what
// Metaspace's prepend_scheme "first" looks at).
#include <memory>
#include <string_view>

#include "function_ref.hpp"
#include "json_node.hpp"

namespace allm::hf {

using PieceSink = FunctionRef<void(std::string_view, bool)>;

class PreTokenizer {
 public:
  virtual ~PreTokenizer() = default;
  virtual void split(std::string_view text, bool at_start, PieceSink emit) const = 0;
};

using PreTokenizerPtr = std::unique_ptr<PreTokenizer>;

PreTokenizerPtr make_pre_tokenizer(const JsonNode& node);

PreTokenizerPtr make_split_pre_tokenizer(const JsonNode& node);
PreTokenizerPtr make_byte_level_pre_tokenizer(const JsonNode& node);
PreTokenizerPtr make_metaspace_pre_tokenizer(const JsonNode& node);
PreTokenizerPtr make_digits_pre_tokenizer(const JsonNode& node);
PreTokenizerPtr make_punctuation_pre_tokenizer(const JsonNode& node);
PreTokenizerPtr make_whitespace_pre_tokenizer(const JsonNode& node);
PreTokenizerPtr make_whitespace_split_pre_tokenizer(const JsonNode& node);
PreTokenizerPtr make_bert_pre_tokenizer(const JsonNode& node);
PreTokenizerPtr make_sequence_pre_tokenizer(const JsonNode& node);

}  // namespace allm::hf
