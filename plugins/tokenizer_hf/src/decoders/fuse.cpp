// Fuse: joins all tokens into one string.
#include "decoder.hpp"

namespace allm::hf {

namespace {
class FuseDecoder : public Decoder {
 public:
  void decode(std::vector<std::string>& tokens) const override {
    std::string joined;
    for (auto& t : tokens) joined += t;
    tokens.assign(1, std::move(joined));
  }
};
}  // namespace

DecoderPtr make_fuse_decoder(const JsonNode&) { return std::make_unique<FuseDecoder>(); }

}  // namespace allm::hf
