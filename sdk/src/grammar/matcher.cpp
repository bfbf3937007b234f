// The matcher: the set of live (node, call stack) items of a grammar, advanced
// byte by byte; masks by a depth-first walk of the vocabulary's byte trie that
// prunes at the first byte no item accepts, cached per state.
#include <algorithm>
#include <array>
#include <cstring>
#include <unordered_map>

#include "allm/error.hpp"
#include "grammar_ir.hpp"

namespace allm::grammar {

namespace {
struct Item {
  int32_t node;
  int32_t stack;
  bool operator==(const Item& o) const { return node == o.node && stack == o.stack; }
  bool operator<(const Item& o) const { return node != o.node ? node < o.node : stack < o.stack; }
};
// Guards against grammars whose live set or stacks grow without bound: items
// past these limits are dropped (the matcher may then refuse valid text, never
// accept invalid text).
constexpr size_t kMaxItems = 20000;
constexpr int32_t kMaxStackDepth = 2000;
constexpr size_t kMaxCachedMasks = 2048;
}  // namespace

// States (closed item sets) are interned and their byte transitions cached,
// so the matcher is a lazily built DFA over the grammar's automata.
//
// Masks (the design of XGrammar's per-node cache): the items of a state are
// grouped by call stack; each group's node set is walked over the trie once
// with an opaque stack ("bottom") — tokens consumed without leaving the group's
// rule are allowed in any context, tokens that go past the rule's end are
// "uncertain" and checked against the real stack at each step. Most of the
// vocabulary is settled by the cached walk.
struct Matcher::Impl {
  static constexpr int32_t kBottom = 1;  // the opaque stack of local walks
  static constexpr int32_t kUnknown = -2, kDead = -1;
  std::shared_ptr<const Grammar> g;
  std::shared_ptr<const TokenTrie> trie;
  std::vector<char> has_bytes;  // node has a byte edge
  struct Frame {
    int32_t ret, parent, depth;
  };
  std::vector<Frame> stacks{{-1, -1, 0}, {-1, -1, 0}};  // 0 = the empty stack, 1 = bottom
  std::unordered_map<uint64_t, int32_t> stack_ids;

  struct State {
    std::vector<Item> items;
    bool escapes = false;   // a rule entered at `bottom` can end here
    bool accepting = false;
  };
  std::vector<State> states;
  std::vector<std::array<int32_t, 256>> trans;
  std::unordered_map<std::string, int32_t> state_ids;
  int32_t current = 0;
  std::vector<Item> work, scratch;

  using Local = TokenTrie::LocalMask;
  std::unordered_map<std::string, std::shared_ptr<const Local>> locals;
  std::unordered_map<int32_t, std::vector<uint64_t>> masks;  // full mask per state
  size_t words = 0;

  int32_t push(int32_t ret, int32_t parent) {
    uint64_t key = (static_cast<uint64_t>(static_cast<uint32_t>(ret)) << 32) | static_cast<uint32_t>(parent);
    auto it = stack_ids.find(key);
    if (it != stack_ids.end()) return it->second;
    int32_t id = static_cast<int32_t>(stacks.size());
    stacks.push_back({ret, parent, stacks[static_cast<size_t>(parent)].depth + 1});
    stack_ids.emplace(key, id);
    return id;
  }

  static void add_unique(std::vector<Item>& v, Item it) {
    for (auto& x : v)
      if (x == it) return;
    if (v.size() < kMaxItems) v.push_back(it);
  }

  // Expands epsilon moves, calls and returns; interns the items that can read
  // a byte, sorted (the canonical form).
  int32_t close_and_intern(std::vector<Item>& seed) {
    work.assign(seed.begin(), seed.end());
    scratch.clear();
    bool escapes = false, accepting = false;
    for (size_t i = 0; i < work.size(); ++i) {
      Item it = work[i];
      const Node& n = g->nodes[static_cast<size_t>(it.node)];
      if (n.rule_end) {
        if (it.stack == 0) accepting = true;
        else if (it.stack == kBottom) escapes = true;
        else {
          const Frame& f = stacks[static_cast<size_t>(it.stack)];
          add_unique(work, {f.ret, f.parent});
        }
      }
      if (has_bytes[static_cast<size_t>(it.node)]) scratch.push_back(it);
      for (const Edge& e : n.edges) {
        if (e.call == kEpsilon) {
          add_unique(work, {e.to, it.stack});
        } else if (e.call >= 0) {
          if (stacks[static_cast<size_t>(it.stack)].depth >= kMaxStackDepth) continue;
          int32_t s = push(e.to, it.stack);
          add_unique(work, {g->rules[static_cast<size_t>(e.call)].start, s});
        }
      }
    }
    std::sort(scratch.begin(), scratch.end());
    scratch.erase(std::unique(scratch.begin(), scratch.end()), scratch.end());
    if (scratch.empty() && !escapes && !accepting) return kDead;
    std::string key(reinterpret_cast<const char*>(scratch.data()), scratch.size() * sizeof(Item));
    key += static_cast<char>(escapes | (accepting << 1));
    auto found = state_ids.find(key);
    if (found != state_ids.end()) return found->second;
    auto id = static_cast<int32_t>(states.size());
    states.push_back(State{scratch, escapes, accepting});
    trans.emplace_back();
    trans.back().fill(kUnknown);
    state_ids.emplace(std::move(key), id);
    return id;
  }

  int32_t next(int32_t sid, uint8_t b) {
    int32_t& t = trans[static_cast<size_t>(sid)][b];
    if (t != kUnknown) return t;
    std::vector<Item> seed;
    for (const Item& it : states[static_cast<size_t>(sid)].items)
      for (const Edge& e : g->nodes[static_cast<size_t>(it.node)].edges)
        if (e.call == kByteEdge && b >= e.lo && b <= e.hi) add_unique(seed, {e.to, it.stack});
    int32_t r = seed.empty() ? kDead : close_and_intern(seed);
    trans[static_cast<size_t>(sid)][b] = r;  // `t` may dangle: trans grew
    return r;
  }

  // A state with items but no byte edges left is possible only as escape/accept markers.
  bool live(int32_t sid) const { return sid >= 0 && !states[static_cast<size_t>(sid)].items.empty(); }

  int32_t run(int32_t sid, std::string_view bytes) {
    for (unsigned char b : bytes) {
      if (!live(sid)) return kDead;
      sid = next(sid, b);
    }
    return sid;
  }

  // Full walk from a real state: every token below `tnode` the grammar accepts.
  void walk_full(uint32_t tnode, int32_t sid, std::vector<uint64_t>& mask) {
    const auto& tn = trie->nodes[tnode];
    for (uint32_t c = 0; c < tn.num_children; ++c) {
      const auto& ch = trie->children[tn.first_child + c];
      int32_t nsid = next(sid, ch.byte);
      if (nsid < 0) continue;
      set_tokens(ch.node, mask);
      if (live(nsid) && trie->nodes[ch.node].num_children) walk_full(ch.node, nsid, mask);
    }
  }

  void set_tokens(uint32_t tnode, std::vector<uint64_t>& mask) const {
    const auto& cn = trie->nodes[tnode];
    for (uint32_t t = 0; t < cn.num_tokens; ++t) {
      auto id = static_cast<uint32_t>(trie->tokens[cn.first_token + t]);
      mask[id >> 6] |= uint64_t{1} << (id & 63);
    }
  }

  void walk_local(uint32_t tnode, int32_t sid, bool escaped, Local& out) {
    const auto& tn = trie->nodes[tnode];
    bool esc = escaped || states[static_cast<size_t>(sid)].escapes;
    for (uint32_t c = 0; c < tn.num_children; ++c) {
      const auto& ch = trie->children[tn.first_child + c];
      int32_t nsid = live(sid) ? next(sid, ch.byte) : kDead;
      if (nsid < 0 || (!live(nsid) && !states[static_cast<size_t>(nsid)].escapes)) {
        if (esc) {
          path_.push_back(static_cast<char>(ch.byte));
          out.uncertain.emplace_back(ch.node, path_);
          path_.pop_back();
        }
        continue;
      }
      set_tokens(ch.node, out.allowed);
      if (trie->nodes[ch.node].num_children) {
        path_.push_back(static_cast<char>(ch.byte));
        walk_local(ch.node, nsid, esc, out);
        path_.pop_back();
      }
    }
  }
  std::string path_;

  // The automaton reachable from `nodes`, numbered in discovery order: equal
  // signatures walk the trie identically, in any grammar (so the string
  // content of every schema shares one walk). Empty when too large to bother.
  std::string signature(const std::vector<int32_t>& nodes) {
    std::unordered_map<int32_t, int32_t> ids;
    std::vector<int32_t> order;
    auto id_of = [&](int32_t n) {
      auto [it, fresh] = ids.emplace(n, static_cast<int32_t>(order.size()));
      if (fresh) order.push_back(n);
      return it->second;
    };
    for (int32_t n : nodes) id_of(n);
    std::string sig;
    for (size_t i = 0; i < order.size(); ++i) {
      if (order.size() > 4096) return {};
      const Node& n = g->nodes[static_cast<size_t>(order[i])];
      sig += n.rule_end ? 'E' : 'N';
      for (const Edge& e : n.edges) {
        int32_t fields[4] = {e.lo | (e.hi << 8), e.call < 0 ? e.call : id_of(g->rules[static_cast<size_t>(e.call)].start),
                             id_of(e.to), e.call >= 0 ? id_of(g->rules[static_cast<size_t>(e.call)].end) : 0};
        sig.append(reinterpret_cast<const char*>(fields), sizeof fields);
      }
    }
    return sig;
  }

  const Local& local_for(const std::vector<int32_t>& nodes) {
    std::string key(reinterpret_cast<const char*>(nodes.data()), nodes.size() * sizeof(int32_t));
    auto it = locals.find(key);
    if (it != locals.end()) return *it->second;
    std::string sig = signature(nodes);
    if (!sig.empty()) {
      if (auto shared = trie->shared_local(sig)) return *locals.emplace(std::move(key), shared).first->second;
    }
    std::vector<Item> seed;
    for (int32_t n : nodes) seed.push_back({n, kBottom});
    int32_t sid = close_and_intern(seed);
    auto made = std::make_shared<Local>();
    Local& l = *made;
    l.allowed.assign(words, 0);
    path_.clear();
    if (sid >= 0 && !trie->nodes.empty()) walk_local(0, sid, false, l);
    if (!sig.empty()) trie->share_local(sig, made);
    return *locals.emplace(std::move(key), std::move(made)).first->second;
  }

  void compute(std::vector<uint64_t>& mask) {
    auto cached = masks.find(current);
    if (cached != masks.end()) {
      mask = cached->second;
      return;
    }
    mask.assign(words, 0);
    // Group the items by stack; items are sorted by node, so collect per stack.
    std::unordered_map<int32_t, std::vector<int32_t>> groups;
    for (const Item& it : states[static_cast<size_t>(current)].items) groups[it.stack].push_back(it.node);
    std::vector<const Local*> parts;
    for (auto& [stack, nodes] : groups) {
      std::sort(nodes.begin(), nodes.end());
      parts.push_back(&local_for(nodes));
    }
    for (const Local* l : parts)
      for (size_t w = 0; w < words; ++w) mask[w] |= l->allowed[w];
    for (const Local* l : parts)
      for (auto& [tnode, path] : l->uncertain) {
        int32_t s = run(current, path);
        if (s < 0) continue;
        set_tokens(tnode, mask);
        if (live(s)) walk_full(tnode, s, mask);
      }
    if (masks.size() >= kMaxCachedMasks) masks.clear();
    masks.emplace(current, mask);
  }

  void reset() {
    std::vector<Item> seed{{g->rules[static_cast<size_t>(g->root)].start, 0}};
    current = close_and_intern(seed);
  }
};

Matcher::Matcher(std::shared_ptr<const Grammar> grammar, std::shared_ptr<const TokenTrie> trie)
    : impl_(std::make_unique<Impl>()) {
  impl_->g = std::move(grammar);
  impl_->trie = std::move(trie);
  impl_->has_bytes.assign(impl_->g->nodes.size(), 0);
  for (size_t i = 0; i < impl_->g->nodes.size(); ++i)
    for (auto& e : impl_->g->nodes[i].edges)
      if (e.call == kByteEdge) impl_->has_bytes[i] = 1;
  impl_->words = (impl_->trie->vocab_size() + 63) / 64;
  impl_->reset();
}
Matcher::~Matcher() = default;
Matcher::Matcher(Matcher&&) noexcept = default;

void Matcher::compute_mask(std::vector<uint64_t>& mask) {
  if (impl_->current < 0) {
    mask.assign(impl_->words, 0);
    return;
  }
  impl_->compute(mask);
}

bool Matcher::advance_bytes(std::string_view bytes) {
  auto& m = *impl_;
  if (m.current < 0) return false;
  int32_t s = m.run(m.current, bytes);
  if (s < 0) return false;
  if (!m.live(s) && !m.states[static_cast<size_t>(s)].accepting) return false;
  m.current = s;
  return true;
}

bool Matcher::advance_token(TokenId id) {
  if (id < 0 || static_cast<size_t>(id) >= impl_->trie->vocab_size()) return false;
  const std::string& b = impl_->trie->bytes(id);
  if (b.empty()) return false;
  return advance_bytes(b);
}

bool Matcher::is_accepting() const {
  return impl_->current >= 0 && impl_->states[static_cast<size_t>(impl_->current)].accepting;
}

bool Matcher::is_terminated() const { return impl_->current < 0 || !impl_->live(impl_->current); }

void Matcher::reset() { impl_->reset(); }

}  // namespace allm::grammar
