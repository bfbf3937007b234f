// Sequence: applies `decoders` in order.
#include "decoder.hpp"

namespace allm::hf {

namespace {
class SequenceDecoder : public Decoder {
 public:
  explicit SequenceDecoder(std::vector<DecoderPtr> steps) : steps_(std::move(steps)) {}
  void decode(std::vector<std::string>& tokens) const override {
    for (auto& s : steps_) s->decode(tokens);
  }

 private:
  std::vector<DecoderPtr> steps_;
};
}  // namespace

DecoderPtr make_sequence_decoder(const JsonNode& node) {
  auto list = node.at("decoders");
  std::vector<DecoderPtr> steps;
  for (size_t i = 0; i < list.size(); ++i) steps.push_back(make_decoder(list.at(i)));
  return std::make_unique<SequenceDecoder>(std::move(steps));
}

}  // namespace allm::hf
