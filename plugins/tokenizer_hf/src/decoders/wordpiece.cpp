// WordPiece decoder: tokens are joined with spaces, except that a token with
// the continuing-subword prefix glues onto the one before; `cleanup` removes
// the spaces BERT puts before punctuation and inside contractions.
#include "decoder.hpp"

namespace allm::hf {

namespace {
void replace_all(std::string& s, std::string_view from, std::string_view to) {
  for (size_t pos = 0; (pos = s.find(from, pos)) != std::string::npos; pos += to.size()) s.replace(pos, from.size(), to);
}

class WordPieceDecoder : public Decoder {
 public:
  WordPieceDecoder(std::string prefix, bool cleanup) : prefix_(std::move(prefix)), cleanup_(cleanup) {}
  void decode(std::vector<std::string>& tokens) const override {
    for (size_t i = 0; i < tokens.size(); ++i) {
      std::string& t = tokens[i];
      if (i != 0) {
        if (t.compare(0, prefix_.size(), prefix_) == 0)
          t.erase(0, prefix_.size());
        else
          t.insert(0, " ");
      }
      if (cleanup_) {
        for (auto [from, to] : {std::pair<std::string_view, std::string_view>{" .", "."}, {" ?", "?"}, {" !", "!"},
                                {" ,", ","}, {" ' ", "'"}, {" n't", "n't"}, {" 'm", "'m"}, {" do not", " don't"},
                                {" 's", "'s"}, {" 've", "'ve"}, {" 're", "'re"}})
          replace_all(t, from, to);
      }
    }
  }

 private:
  std::string prefix_;
  bool cleanup_;
};
}  // namespace

DecoderPtr make_wordpiece_decoder(const JsonNode& node) {
  return std::make_unique<WordPieceDecoder>(node.string_or("prefix", "##"), node.bool_or("cleanup", true));
}

}  // namespace allm::hf
