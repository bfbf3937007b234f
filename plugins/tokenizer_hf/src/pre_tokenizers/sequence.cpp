// Sequence: each stage splits the pieces of the one before.
#include <vector>

#include "pre_tokenizer.hpp"

namespace allm::hf {

namespace {
class SequencePreTokenizer : public PreTokenizer {
 public:
  explicit SequencePreTokenizer(std::vector<PreTokenizerPtr> stages) : stages_(std::move(stages)) {}
  void split(std::string_view text, bool at_start, PieceSink emit) const override { run(0, text, at_start, emit); }

 private:
  void run(size_t stage, std::string_view text, bool at_start, PieceSink emit) const {
    if (stage == stages_.size()) {
      emit(text, at_start);
      return;
    }
    stages_[stage]->split(text, at_start, [&](std::string_view piece, bool piece_at_start) {
      run(stage + 1, piece, piece_at_start, emit);
    });
  }

  std::vector<PreTokenizerPtr> stages_;
};
}  // namespace

PreTokenizerPtr make_sequence_pre_tokenizer(const JsonNode& node) {
  auto list = node.at("pretokenizers");
  std::vector<PreTokenizerPtr> stages;
  for (size_t i = 0; i < list.size(); ++i) stages.push_back(make_pre_tokenizer(list.at(i)));
  return std::make_unique<SequencePreTokenizer>(std::move(stages));
}

}  // namespace allm::hf
