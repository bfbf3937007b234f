#pragma once
// Normalizers rewrite one segment of input text (the text between added
// tokens) before pre-tokenization. One class per file under normalizers/.
#include <memory>
#include <string>

#include "json_node.hpp"

namespace allm::hf {

class Normalizer {
 public:
  virtual ~Normalizer() = default;
  virtual void normalize(std::string& text) const = 0;
};

using NormalizerPtr = std::unique_ptr<Normalizer>;

// Builds the normalizer described by `node` (dispatching on its `type`).
NormalizerPtr make_normalizer(const JsonNode& node);

NormalizerPtr make_unicode_normalizer(const JsonNode& node);  // NFC, NFD, NFKC, NFKD
NormalizerPtr make_replace_normalizer(const JsonNode& node);
NormalizerPtr make_prepend_normalizer(const JsonNode& node);
NormalizerPtr make_lowercase_normalizer(const JsonNode& node);
NormalizerPtr make_strip_normalizer(const JsonNode& node);
NormalizerPtr make_strip_accents_normalizer(const JsonNode& node);
NormalizerPtr make_bert_normalizer(const JsonNode& node);
NormalizerPtr make_sequence_normalizer(const JsonNode& node);

}  // namespace allm::hf
