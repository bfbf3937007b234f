// BPE: a piece starts as one symbol per character (falling back to byte
// tokens <0xXX> or the unknown token), then the lowest-ranked merge of two
// neighbours is applied until none is left (leftmost first on ties), as HF
// tokenizers does. Merges live in a hash map keyed by the id pair; a
// priority queue over a linked list of symbols keeps long pieces linear-ish.
#include <algorithm>
#include <array>
#include <cstdio>
#include <queue>

#include "model.hpp"
#include "string_map.hpp"
#include "utf8.hpp"
#include "vocab_table.hpp"
#include "word_cache.hpp"

namespace allm::hf {

namespace {

struct Symbol {
  TokenId id;
  int32_t prev, next;
  bool alive;
};

struct Candidate {
  int32_t rank;
  int32_t pos;
  TokenId new_id;
  // std::priority_queue is a max-heap: invert so the lowest rank, then the
  // leftmost position, comes first.
  bool operator<(const Candidate& o) const { return rank != o.rank ? rank > o.rank : pos > o.pos; }
};

class BpeModel : public Model {
 public:
  explicit BpeModel(const JsonNode& node) {
    vocab_.load(node.at("vocab"));
    ignore_merges_ = node.bool_or("ignore_merges", false);
    byte_fallback_ = node.bool_or("byte_fallback", false);
    fuse_unk_ = node.bool_or("fuse_unk", false);
    prefix_ = node.string_or("continuing_subword_prefix", "");
    suffix_ = node.string_or("end_of_word_suffix", "");
    if (auto unk = node.optional_string("unk_token")) {
      unk_id_ = vocab_.find(*unk);
      if (!unk_id_) node.at("unk_token").fail("unknown token '" + *unk + "' is not in the vocabulary");
    }
    if (auto dropout = node.get("dropout"); dropout && dropout->as_number() > 0.0)
      dropout->fail("BPE dropout is not supported for inference");
    load_merges(node.at("merges"));
    for (int b = 0; b < 256; ++b) {
      char name[8];
      std::snprintf(name, sizeof name, "<0x%02X>", b);
      auto id = vocab_.find(name);
      byte_ids_[b] = id ? *id : -1;
    }
    // Single characters looked up by code point, skipping the string hash.
    if (prefix_.empty() && suffix_.empty()) {
      char_ids_.assign(0x10000, -1);
      for (char32_t cp = 0; cp < 0x10000; ++cp) {
        if (cp >= 0xD800 && cp < 0xE000) continue;
        if (auto id = vocab_.find(utf8::encode(cp))) char_ids_[cp] = *id;
      }
    }
  }

  void tokenize(std::string_view piece, std::vector<TokenId>& out) const override {
    if (piece.empty()) return;
    if (ignore_merges_) {
      if (auto id = vocab_.find(piece)) {
        out.push_back(*id);
        return;
      }
    }
    if (cache_.lookup(piece, out)) return;
    size_t first = out.size();
    merge_word(piece, out);
    cache_.store(piece, out.data() + first, out.size() - first);
  }

  std::optional<TokenId> token_to_id(std::string_view token) const override { return vocab_.find(token); }
  const std::string* id_to_token(TokenId id) const override { return vocab_.token(id); }
  size_t id_bound() const override { return vocab_.id_bound(); }

 private:
  void load_merges(const JsonNode& merges) {
    if (!merges.is_array()) merges.fail("expected an array of merges");
    const auto& list = merges.json();
    merges_.reserve(list.size());
    std::string left, right;
    for (size_t i = 0; i < list.size(); ++i) {
      const auto& m = list[i];
      if (m.is_string()) {
        const auto& s = m.get_ref<const std::string&>();
        size_t space = s.find(' ', 1);
        if (space == std::string::npos) merges.at(i).fail("merge must be two tokens separated by a space");
        left.assign(s, 0, space);
        right.assign(s, space + 1);
      } else if (m.is_array() && m.size() == 2 && m[0].is_string() && m[1].is_string()) {
        left = m[0].get_ref<const std::string&>();
        right = m[1].get_ref<const std::string&>();
      } else {
        merges.at(i).fail("merge must be \"a b\" or [\"a\", \"b\"]");
      }
      auto a = vocab_.find(left), b = vocab_.find(right), ab = vocab_.find(left + right);
      if (!a || !b || !ab) {
        std::string missing = !a ? left : !b ? right : left + right;
        merges.at(i).fail("merge token '" + missing + "' is not in the vocabulary");
      }
      merges_.put(*a, *b, Merge{static_cast<int32_t>(i), *ab});
    }
  }

  std::optional<TokenId> symbol_id(std::string_view ch, char32_t cp, bool first, bool last) const {
    if (!char_ids_.empty()) {
      if (cp < char_ids_.size()) {
        TokenId id = char_ids_[cp];
        if (id < 0) return std::nullopt;
        return id;
      }
      return vocab_.find(ch);
    }
    std::string s;
    if (!first) s += prefix_;
    s += ch;
    if (last) s += suffix_;
    return vocab_.find(s);
  }

  void merge_word(std::string_view word, std::vector<TokenId>& out) const {
    thread_local std::vector<Symbol> symbols;
    symbols.clear();
    auto add = [&](TokenId id) {
      int32_t n = static_cast<int32_t>(symbols.size());
      symbols.push_back({id, n - 1, n + 1, true});
    };
    TokenId pending_unk = -1;  // an unknown-token run not yet added
    for (size_t i = 0; i < word.size();) {
      size_t start = i;
      char32_t cp = utf8::next(word, i);
      std::string_view ch = word.substr(start, i - start);
      if (auto id = symbol_id(ch, cp, start == 0, i == word.size())) {
        if (pending_unk >= 0) {
          add(pending_unk);
          pending_unk = -1;
        }
        add(*id);
        continue;
      }
      if (byte_fallback_) {
        bool all = true;
        for (unsigned char b : ch) all = all && byte_ids_[b] >= 0;
        if (all) {
          for (unsigned char b : ch) add(byte_ids_[b]);
          continue;
        }
      }
      if (!unk_id_)
        throw TokenizerError("BPE: character '" + std::string(ch) + "' is not in the vocabulary and there is no unk_token");
      if (pending_unk >= 0 && !fuse_unk_) add(pending_unk);
      pending_unk = *unk_id_;
    }
    if (pending_unk >= 0) add(pending_unk);
    if (symbols.empty()) return;
    symbols.back().next = -1;

    thread_local std::vector<Candidate> heap_storage;
    heap_storage.clear();
    std::priority_queue<Candidate> queue(std::less<Candidate>(), std::move(heap_storage));
    for (size_t k = 0; k + 1 < symbols.size(); ++k)
      if (const Merge* m = merges_.find(symbols[k].id, symbols[k + 1].id))
        queue.push({m->rank, static_cast<int32_t>(k), m->new_id});
    while (!queue.empty()) {
      Candidate top = queue.top();
      queue.pop();
      Symbol& cur = symbols[top.pos];
      if (!cur.alive || cur.next < 0) continue;
      Symbol& right = symbols[cur.next];
      const Merge* m = merges_.find(cur.id, right.id);
      if (!m || m->new_id != top.new_id) continue;  // stale entry
      cur.id = top.new_id;
      right.alive = false;
      cur.next = right.next;
      if (cur.next >= 0) symbols[cur.next].prev = top.pos;
      if (cur.prev >= 0)
        if (const Merge* pm = merges_.find(symbols[cur.prev].id, cur.id)) queue.push({pm->rank, cur.prev, pm->new_id});
      if (cur.next >= 0)
        if (const Merge* nm = merges_.find(cur.id, symbols[cur.next].id)) queue.push({nm->rank, top.pos, nm->new_id});
    }
    for (int32_t k = 0; k >= 0; k = symbols[k].next) out.push_back(symbols[k].id);
  }

  VocabTable vocab_;
  PairMap merges_;
  std::array<TokenId, 256> byte_ids_{};
  std::vector<TokenId> char_ids_;
  std::optional<TokenId> unk_id_;
  std::string prefix_, suffix_;
  bool ignore_merges_ = false, byte_fallback_ = false, fuse_unk_ = false;
  WordCache cache_;
};

}  // namespace

ModelPtr make_bpe_model(const JsonNode& node) { return std::make_unique<BpeModel>(node); }

}  // namespace allm::hf
