#pragma once
// Decoders turn the token strings of decode() back into text, each one
// rewriting the list of strings in turn; the results are concatenated.
#include <memory>
#include <string>
#include <vector>

#include "json_node.hpp"

namespace allm::hf {

class Decoder {
 public:
  virtual ~Decoder() = default;
  virtual void decode(std::vector<std::string>& tokens) const = 0;
};

using DecoderPtr = std::unique_ptr<Decoder>;

DecoderPtr make_decoder(const JsonNode& node);

DecoderPtr make_byte_level_decoder(const JsonNode& node);
DecoderPtr make_metaspace_decoder(const JsonNode& node);
DecoderPtr make_replace_decoder(const JsonNode& node);
DecoderPtr make_byte_fallback_decoder(const JsonNode& node);
DecoderPtr make_fuse_decoder(const JsonNode& node);
DecoderPtr make_strip_decoder(const JsonNode& node);
DecoderPtr make_wordpiece_decoder(const JsonNode& node);
DecoderPtr make_sequence_decoder(const JsonNode& node);

}  // namespace allm::hf
