// Maps a decoder's `type` tag to its implementation.
#include <string_view>
#include <utility>

#include "decoder.hpp"

namespace allm::hf {

DecoderPtr make_decoder(const JsonNode& node) {
  static const std::pair<std::string_view, DecoderPtr (*)(const JsonNode&)> kTypes[] = {
      {"ByteLevel", make_byte_level_decoder},       {"Metaspace", make_metaspace_decoder},
      {"Replace", make_replace_decoder},            {"ByteFallback", make_byte_fallback_decoder},
      {"Fuse", make_fuse_decoder},                  {"Strip", make_strip_decoder},
      {"WordPiece", make_wordpiece_decoder},        {"Sequence", make_sequence_decoder},
  };
  std::string type = node.type();
  for (auto& [name, make] : kTypes)
    if (name == type) return make(node);
  node.at("type").fail("unknown decoder type '" + type + "'");
}

}  // namespace allm::hf
