#include "added_vocabulary.hpp"

#include <algorithm>

#include "normalizer.hpp"
#include "unicode.hpp"
#include "utf8.hpp"

namespace allm::hf {

namespace {
bool is_word_char(char32_t c) { return c == '_' || unicode::is_alphanumeric(c); }

// Last character before `end` (text[..end] is non-empty).
char32_t last_char(std::string_view text, size_t end) {
  size_t start = end - 1;
  while (start > 0 && (static_cast<unsigned char>(text[start]) & 0xC0) == 0x80) --start;
  return utf8::next(text, start);
}
}  // namespace

void AddedVocabulary::load(const JsonNode& list, const Normalizer* normalizer) {
  for (size_t i = 0; i < list.size(); ++i) {
    auto node = list.at(i);
    AddedToken t;
    t.content = node.at("content").as_string();
    int64_t id = node.at("id").as_int();
    if (id < 0 || id > INT32_MAX) node.at("id").fail("token id out of range");
    t.id = static_cast<TokenId>(id);
    t.special = node.bool_or("special", false);
    t.lstrip = node.bool_or("lstrip", false);
    t.rstrip = node.bool_or("rstrip", false);
    t.single_word = node.bool_or("single_word", false);
    t.normalized = node.bool_or("normalized", !t.special);
    if (t.content.empty()) node.at("content").fail("added token content is empty");
    size_t index = tokens_.size();
    by_id_[t.id] = index;
    by_content_.emplace(t.content, index);
    if (t.normalized) {
      // Normalized tokens are looked for in normalized text, so spell them
      // the way the normalizer would.
      std::string spelling = t.content;
      if (normalizer) normalizer->normalize(spelling);
      normalized_.add(spelling, index);
    } else {
      raw_.add(t.content, index);
    }
    tokens_.push_back(std::move(t));
  }
}

void AddedVocabulary::Matcher::add(std::string_view spelling, size_t token_index) {
  if (spelling.empty()) return;
  int32_t node = 0;
  for (unsigned char b : spelling) {
    int32_t next = child(node, b);
    if (next < 0) {
      next = static_cast<int32_t>(nodes_.size());
      nodes_.push_back(Node{});
      auto& ch = nodes_[node].children;
      ch.insert(std::lower_bound(ch.begin(), ch.end(), std::make_pair(b, int32_t{-1})), {b, next});
    }
    node = next;
  }
  // The first token with a given spelling wins.
  if (nodes_[node].token < 0) nodes_[node].token = static_cast<int32_t>(token_index);
  first_byte_[static_cast<unsigned char>(spelling[0])] = true;
}

int32_t AddedVocabulary::Matcher::child(int32_t node, unsigned char b) const {
  const auto& ch = nodes_[node].children;
  auto it = std::lower_bound(ch.begin(), ch.end(), std::make_pair(b, int32_t{-1}));
  return it != ch.end() && it->first == b ? it->second : -1;
}

bool AddedVocabulary::Matcher::longest_at(std::string_view text, size_t pos, size_t& token, size_t& length) const {
  int32_t node = 0;
  bool found = false;
  for (size_t i = pos; i < text.size(); ++i) {
    node = child(node, static_cast<unsigned char>(text[i]));
    if (node < 0) break;
    if (nodes_[node].token >= 0) {
      token = static_cast<size_t>(nodes_[node].token);
      length = i + 1 - pos;
      found = true;
    }
  }
  return found;
}

void AddedVocabulary::Matcher::split(std::string_view text, const std::vector<AddedToken>& tokens,
                                     std::vector<Segment>& out) const {
  out.clear();
  size_t done = 0;  // end of the last emitted segment
  if (!empty()) {
    for (size_t pos = 0; pos < text.size(); ++pos) {
      if (!first_byte_[static_cast<unsigned char>(text[pos])]) continue;
      size_t index, length;
      if (!longest_at(text, pos, index, length)) continue;
      const AddedToken& t = tokens[index];
      size_t start = pos, stop = pos + length;
      if (t.single_word) {
        bool left_ok = start == 0 || !is_word_char(last_char(text, start));
        size_t probe = stop;
        bool right_ok = stop == text.size() || !is_word_char(utf8::next(text, probe));
        if (!left_ok || !right_ok) continue;
      }
      if (t.lstrip) {
        while (start > done) {
          size_t prev = start - 1;
          while (prev > done && (static_cast<unsigned char>(text[prev]) & 0xC0) == 0x80) --prev;
          size_t probe = prev;
          if (!unicode::is_whitespace(utf8::next(text, probe))) break;
          start = prev;
        }
      }
      if (t.rstrip) {
        while (stop < text.size()) {
          size_t next = stop;
          if (!unicode::is_whitespace(utf8::next(text, next))) break;
          stop = next;
        }
      }
      if (start > done) out.push_back({done, start, std::nullopt});
      out.push_back({start, stop, t.id});
      done = stop;
      pos = stop - 1;
    }
  }
  if (done < text.size()) out.push_back({done, text.size(), std::nullopt});
}

}  // namespace allm::hf
