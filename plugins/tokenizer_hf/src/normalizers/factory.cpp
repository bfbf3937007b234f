// Maps a normalizer's `type` tag to its implementation.
#include <string_view>
#include <utility>

#include "normalizer.hpp"

namespace allm::hf {

NormalizerPtr make_normalizer(const JsonNode& node) {
  static const std::pair<std::string_view, NormalizerPtr (*)(const JsonNode&)> kTypes[] = {
      {"NFC", make_unicode_normalizer},         {"NFD", make_unicode_normalizer},
      {"NFKC", make_unicode_normalizer},        {"NFKD", make_unicode_normalizer},
      {"Replace", make_replace_normalizer},     {"Prepend", make_prepend_normalizer},
      {"Lowercase", make_lowercase_normalizer}, {"Strip", make_strip_normalizer},
      {"StripAccents", make_strip_accents_normalizer}, {"BertNormalizer", make_bert_normalizer},
      {"Sequence", make_sequence_normalizer},
  };
  std::string type = node.type();
  for (auto& [name, make] : kTypes)
    if (name == type) return make(node);
  node.at("type").fail("unknown normalizer type '" + type + "'");
}

}  // namespace allm::hf
