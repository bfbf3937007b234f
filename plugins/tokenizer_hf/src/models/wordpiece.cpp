// WordPiece: greedy longest-match-first; pieces after the first carry the
// continuing-subword prefix ("##"); a word with no full cover is one unk.
#include "model.hpp"
#include "utf8.hpp"
#include "vocab_table.hpp"

namespace allm::hf {

namespace {
class WordPieceModel : public Model {
 public:
  explicit WordPieceModel(const JsonNode& node) {
    vocab_.load(node.at("vocab"));
    prefix_ = node.string_or("continuing_subword_prefix", "##");
    max_chars_ = static_cast<size_t>(node.int_or("max_input_chars_per_word", 100));
    std::string unk = node.string_or("unk_token", "[UNK]");
    auto id = vocab_.find(unk);
    if (!id) node.fail("unk_token '" + unk + "' is not in the vocabulary");
    unk_id_ = *id;
  }

  void tokenize(std::string_view word, std::vector<TokenId>& out) const override {
    size_t chars = 0;
    for (unsigned char c : word) chars += (c & 0xC0) != 0x80;
    if (chars > max_chars_) {
      out.push_back(unk_id_);
      return;
    }
    size_t first = out.size();
    std::string candidate;
    for (size_t start = 0; start < word.size();) {
      size_t end = word.size();
      std::optional<TokenId> found;
      while (end > start) {
        candidate.clear();
        if (start > 0) candidate += prefix_;
        candidate.append(word.substr(start, end - start));
        if ((found = vocab_.find(candidate))) break;
        do --end;
        while (end > start && (static_cast<unsigned char>(word[end]) & 0xC0) == 0x80);
      }
      if (!found) {
        out.resize(first);
        out.push_back(unk_id_);
        return;
      }
      out.push_back(*found);
      start = end;
    }
  }

  std::optional<TokenId> token_to_id(std::string_view token) const override { return vocab_.find(token); }
  const std::string* id_to_token(TokenId id) const override { return vocab_.token(id); }
  size_t id_bound() const override { return vocab_.id_bound(); }

 private:
  VocabTable vocab_;
  std::string prefix_;
  size_t max_chars_;
  TokenId unk_id_;
};
}  // namespace

ModelPtr make_wordpiece_model(const JsonNode& node) { return std::make_unique<WordPieceModel>(node); }

}  // namespace allm::hf
