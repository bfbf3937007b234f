#include "tokenizer_json.hpp"

#include "allm/error.hpp"
#include "allm/json_depth.hpp"

namespace allm::hf {

namespace {

using json = nlohmann::json;

std::string position(const std::string& text, size_t byte) {
  size_t line = 1, column = 1;
  for (size_t i = 0; i < byte && i < text.size(); ++i) {
    if (text[i] == '\n') {
      ++line;
      column = 1;
    } else {
      ++column;
    }
  }
  return "line " + std::to_string(line) + ", column " + std::to_string(column) + " (byte " + std::to_string(byte) + ")";
}

// Builds the tree like nlohmann's own DOM parser, diverting the vocabulary
// and merges of the root's "model" object.
class Reader : public nlohmann::json_sax<json> {
 public:
  Reader(TokenizerJson& out, const std::string& text, const std::string& origin)
      : out_(out), text_(text), origin_(origin) {}

  bool null() override { return scalar(json(nullptr)); }
  bool boolean(bool v) override { return scalar(json(v)); }
  bool number_integer(number_integer_t v) override {
    if (mode_ == Mode::Vocab) return vocab_entry(v);
    return scalar(json(v));
  }
  bool number_unsigned(number_unsigned_t v) override {
    if (mode_ == Mode::Vocab) return vocab_entry(v > static_cast<number_unsigned_t>(INT32_MAX) ? -1 : static_cast<int64_t>(v));
    return scalar(json(v));
  }
  bool number_float(number_float_t v, const string_t&) override { return scalar(json(v)); }
  bool string(string_t& v) override {
    if (mode_ == Mode::Merges) {
      size_t space = v.find(' ', 1);
      if (space == std::string::npos) fail_merge("merge must be two tokens separated by a space");
      out_.merges->emplace_back(v.substr(0, space), v.substr(space + 1));
      return true;
    }
    if (mode_ == Mode::MergePair) {
      if (pair_fill_ == 0) out_.merges->emplace_back(std::move(v), std::string());
      else if (pair_fill_ == 1) out_.merges->back().second = std::move(v);
      else fail_merge("merge must be \"a b\" or [\"a\", \"b\"]");
      ++pair_fill_;
      return true;
    }
    if (mode_ == Mode::Vocab) fail_vocab("expected a non-negative token id");
    return value(json(std::move(v)));
  }
  bool binary(binary_t&) override { return scalar(json()); }

  bool start_object(std::size_t) override {
    if (mode_ == Mode::Merges || mode_ == Mode::MergePair) fail_merge("merge must be \"a b\" or [\"a\", \"b\"]");
    if (mode_ == Mode::Vocab) fail_vocab("expected a non-negative token id");
    if (diverting("vocab")) {
      mode_ = Mode::Vocab;
      out_.vocab.emplace();
      return value(json::object());
    }
    return open(json::object());
  }
  bool key(string_t& k) override {
    if (mode_ == Mode::Vocab) {
      vocab_key_ = std::move(k);
      return true;
    }
    key_ = std::move(k);
    return true;
  }
  bool end_object() override {
    if (mode_ == Mode::Vocab) {
      mode_ = Mode::None;
      return true;
    }
    stack_.pop_back();
    path_.pop_back();
    return true;
  }
  bool start_array(std::size_t) override {
    if (mode_ == Mode::Vocab) fail_vocab("expected a non-negative token id");
    if (mode_ == Mode::MergePair) fail_merge("merge must be \"a b\" or [\"a\", \"b\"]");
    if (mode_ == Mode::Merges) {
      mode_ = Mode::MergePair;
      pair_fill_ = 0;
      return true;
    }
    if (diverting("merges")) {
      mode_ = Mode::Merges;
      out_.merges.emplace();
      return value(json::array());
    }
    return open(json::array());
  }
  bool end_array() override {
    if (mode_ == Mode::MergePair) {
      if (pair_fill_ != 2) fail_merge("merge must be \"a b\" or [\"a\", \"b\"]");
      mode_ = Mode::Merges;
      return true;
    }
    if (mode_ == Mode::Merges) {
      mode_ = Mode::None;
      return true;
    }
    stack_.pop_back();
    path_.pop_back();
    return true;
  }
  bool parse_error(std::size_t pos, const std::string&, const nlohmann::detail::exception& e) override {
    std::string what = e.what();
    auto reason = what.find("syntax error");
    size_t byte = pos > 0 ? pos - 1 : 0;
    throw TokenizerError(origin_ + ": malformed JSON at " + position(text_, byte) + ": " +
                         (reason == std::string::npos ? what : what.substr(reason)));
  }

 private:
  enum class Mode { None, Vocab, Merges, MergePair };

  // True when the member `name` about to open sits directly in the root's
  // "model" object.
  bool diverting(const char* name) const {
    return stack_.size() == 2 && path_.size() == 2 && path_[1] == "model" && stack_.back()->is_object() && key_ == name;
  }

  // Places `v` in the current container; returns a pointer to it.
  json* place(json&& v) {
    if (stack_.empty()) {
      out_.doc = std::move(v);
      return &out_.doc;
    }
    json& top = *stack_.back();
    if (top.is_array()) {
      top.push_back(std::move(v));
      return &top.back();
    }
    json& slot = top[key_];
    slot = std::move(v);
    return &slot;
  }
  bool value(json&& v) {
    place(std::move(v));
    return true;
  }
  // A non-string scalar: inside the vocabulary or merges it is malformed.
  bool scalar(json&& v) {
    if (mode_ == Mode::Vocab) fail_vocab("expected a non-negative token id");
    if (mode_ != Mode::None) fail_merge("merge must be \"a b\" or [\"a\", \"b\"]");
    return value(std::move(v));
  }
  bool open(json&& container) {
    std::string name = stack_.empty() ? "" : stack_.back()->is_array() ? std::to_string(stack_.back()->size()) : key_;
    stack_.push_back(place(std::move(container)));
    path_.push_back(std::move(name));
    return true;
  }

  bool vocab_entry(int64_t id) {
    if (id < 0 || id > INT32_MAX) fail_vocab("expected a non-negative token id");
    out_.vocab->emplace_back(std::move(vocab_key_), static_cast<TokenId>(id));
    return true;
  }
  [[noreturn]] void fail_vocab(const std::string& message) {
    throw TokenizerError(origin_ + ": /model/vocab/" + vocab_key_ + ": " + message);
  }
  [[noreturn]] void fail_merge(const std::string& message) {
    size_t index = out_.merges->size() - (mode_ == Mode::MergePair && pair_fill_ > 0 ? 1 : 0);
    throw TokenizerError(origin_ + ": /model/merges/" + std::to_string(index) + ": " + message);
  }

  TokenizerJson& out_;
  const std::string& text_;
  const std::string& origin_;
  std::vector<json*> stack_;
  std::vector<std::string> path_;  // member name or index of each open container
  std::string key_, vocab_key_;
  Mode mode_ = Mode::None;
  int pair_fill_ = 0;
};

}  // namespace

TokenizerJson read_tokenizer_json(const std::string& text, const std::string& origin) {
  TokenizerJson out;
  if (std::string depth = json_depth_error(text); !depth.empty()) throw TokenizerError(origin + ": " + depth);
  Reader reader(out, text, origin);
  json::sax_parse(text, &reader);
  return out;
}

}  // namespace allm::hf
