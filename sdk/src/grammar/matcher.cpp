// The matcher: the set of live (node, call stack) items of a grammar, advanced
// byte by byte; masks by a depth-first walk of the vocabulary's byte trie that
// prunes at the first byte no item accepts (skipping the subtree), allows a
// whole subtree at once when the state provably accepts every path in it, and
// is cached per state.
#include <algorithm>
#include <array>
#include <climits>
#include <cstdint>
#include <cstring>
#include <deque>
#include <unordered_map>

#include "allm/error.hpp"
#include "grammar_ir.hpp"
#include "token_trie.hpp"

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
// Subtree shortcuts look this many trie levels ahead at most.
constexpr uint32_t kMaxChain = 16;
// The automaton behind a fragment signature is compared up to this many nodes.
constexpr size_t kMaxSignatureNodes = 16384;

// A set of items (as 64-bit keys), cleared in O(1) by a generation stamp:
// deduplicates the work list of a closure without a quadratic scan.
class ItemSet {
 public:
  void clear() {
    if (++gen_ == 0) std::fill(gens_.begin(), gens_.end(), 0), gen_ = 1;
    count_ = 0;
    if (keys_.empty()) keys_.assign(64, 0), gens_.assign(64, 0);
  }
  bool insert(uint64_t k) {
    if ((count_ + 1) * 2 > keys_.size()) grow();
    size_t m = keys_.size() - 1, h = hash(k) & m;
    while (gens_[h] == gen_) {
      if (keys_[h] == k) return false;
      h = (h + 1) & m;
    }
    gens_[h] = gen_, keys_[h] = k, ++count_;
    return true;
  }

 private:
  // A full mix (splitmix64's finalizer): keys differ in their node (high
  // half) as often as in their stack, and the table takes the low bits.
  static size_t hash(uint64_t k) {
    k ^= k >> 30;
    k *= 0xBF58476D1CE4E5B9ull;
    k ^= k >> 27;
    k *= 0x94D049BB133111EBull;
    k ^= k >> 31;
    return static_cast<size_t>(k);
  }
  void grow() {
    std::vector<uint64_t> live;
    for (size_t i = 0; i < keys_.size(); ++i)
      if (gens_[i] == gen_) live.push_back(keys_[i]);
    keys_.assign(keys_.size() * 2, 0);
    gens_.assign(keys_.size(), 0);
    count_ = 0;
    for (uint64_t k : live) insert(k);
  }
  std::vector<uint64_t> keys_;
  std::vector<uint32_t> gens_;
  uint32_t gen_ = 0;
  size_t count_ = 0;
};
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
  static constexpr uint8_t kLive = 1, kEscapes = 2, kAccepting = 4;
  std::shared_ptr<const Grammar> g;
  std::shared_ptr<const TokenTrie> trie;
  const TokenTrie::Impl* t = nullptr;  // the trie's layout
  std::vector<char> has_bytes;  // node has a byte edge
  struct Frame {
    int32_t ret, parent, depth;
  };
  std::vector<Frame> stacks{{-1, -1, 0}, {-1, -1, 0}};  // 0 = the empty stack, 1 = bottom
  std::unordered_map<uint64_t, int32_t> stack_ids;

  // States: sorted items that read a byte; flags: kLive (has such items),
  // kEscapes (a rule entered at `bottom` can end here), kAccepting.
  std::vector<std::vector<Item>> states;
  std::vector<uint8_t> flags;
  std::vector<std::array<int32_t, 256>> trans;
  std::unordered_map<std::string, int32_t> state_ids;
  int32_t current = 0;
  std::vector<Item> work, scratch, seed;
  ItemSet seen;
  std::string key;

  using Local = TokenTrie::Impl::LocalMask;
  std::unordered_map<std::string, std::shared_ptr<const Local>> locals;
  std::unordered_map<int32_t, std::vector<uint64_t>> masks;  // full mask per state
  size_t words = 0;

  // Per state, for subtree shortcuts: `succ`, the live state most bytes lead
  // to, `via` those bytes; levels[k] = the bytes that can be read at each of
  // k + 2 successive levels staying on the chain succ, succ(succ), ...
  struct Chain {
    bool known = false;
    int32_t succ = kDead;
    ByteSet via;
    std::vector<ByteSet> levels;
  };
  std::vector<Chain> chains;

  // Walk scratch: the state and escape flag at each trie depth.
  std::vector<int32_t> st;
  std::vector<char> esc;
  std::string path;

  int32_t push(int32_t ret, int32_t parent) {
    uint64_t k = (static_cast<uint64_t>(static_cast<uint32_t>(ret)) << 32) | static_cast<uint32_t>(parent);
    auto it = stack_ids.find(k);
    if (it != stack_ids.end()) return it->second;
    int32_t id = static_cast<int32_t>(stacks.size());
    stacks.push_back({ret, parent, stacks[static_cast<size_t>(parent)].depth + 1});
    stack_ids.emplace(k, id);
    return id;
  }

  // Node n reaches its rule's end by epsilons only, with nothing to read or
  // call on the way (memoized; deep or cyclic searches answer no, which only
  // costs a stack frame).
  std::vector<int8_t> tails;
  bool tail(int32_t n, int depth) {
    int8_t t = tails[static_cast<size_t>(n)];
    if (t >= 0) return t;
    const Node& nd = g->nodes[static_cast<size_t>(n)];
    bool r = false;
    if (nd.rule_end) {
      r = nd.edges.empty();
    } else if (!nd.edges.empty() && depth < 32) {
      r = true;
      for (const Edge& e : nd.edges)
        if (e.call != kEpsilon || !tail(e.to, depth + 1)) {
          r = false;
          break;
        }
    }
    tails[static_cast<size_t>(n)] = r;
    return r;
  }

  void add_unique(Item it) {
    uint64_t k = (static_cast<uint64_t>(static_cast<uint32_t>(it.node)) << 32) | static_cast<uint32_t>(it.stack);
    if (seen.insert(k) && work.size() < kMaxItems) work.push_back(it);
  }

  // Expands epsilon moves, calls and returns; interns the items that can read
  // a byte, sorted (the canonical form).
  int32_t close_and_intern(const std::vector<Item>& from) {
    work.clear();
    seen.clear();
    for (const Item& it : from) add_unique(it);
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
          add_unique({f.ret, f.parent});
        }
      }
      if (has_bytes[static_cast<size_t>(it.node)]) scratch.push_back(it);
      for (const Edge& e : n.edges) {
        if (e.call == kEpsilon) {
          add_unique({e.to, it.stack});
        } else if (e.call >= 0) {
          // A call in tail position (nothing but epsilons to the caller's end
          // after it) keeps the caller's stack: returning there would pop
          // straight through. Chains of optional members stay shallow.
          int32_t s = it.stack;
          if (!tail(e.to, 0)) {
            if (stacks[static_cast<size_t>(it.stack)].depth >= kMaxStackDepth) continue;
            s = push(e.to, it.stack);
          }
          add_unique({g->rules[static_cast<size_t>(e.call)].start, s});
        }
      }
    }
    std::sort(scratch.begin(), scratch.end());
    if (scratch.empty() && !escapes && !accepting) return kDead;
    key.assign(reinterpret_cast<const char*>(scratch.data()), scratch.size() * sizeof(Item));
    key += static_cast<char>(escapes | (accepting << 1));
    auto found = state_ids.find(key);
    if (found != state_ids.end()) return found->second;
    auto id = static_cast<int32_t>(states.size());
    flags.push_back(static_cast<uint8_t>((scratch.empty() ? 0 : kLive) | (escapes ? kEscapes : 0) |
                                         (accepting ? kAccepting : 0)));
    states.push_back(scratch);
    trans.emplace_back();
    trans.back().fill(kUnknown);
    state_ids.emplace(key, id);
    return id;
  }

  int32_t next(int32_t sid, uint8_t b) {
    int32_t r = trans[static_cast<size_t>(sid)][b];
    if (r != kUnknown) return r;
    seed.clear();
    for (const Item& it : states[static_cast<size_t>(sid)])
      for (const Edge& e : g->nodes[static_cast<size_t>(it.node)].edges)
        if (e.call == kByteEdge && b >= e.lo && b <= e.hi) seed.push_back({e.to, it.stack});
    r = seed.empty() ? kDead : close_and_intern(seed);
    trans[static_cast<size_t>(sid)][b] = r;
    return r;
  }

  // Every byte's successor of `sid` at once: one pass over the items sorts
  // their byte edges by byte, and bytes with the same seed (the many bytes of
  // a character class) share one closure instead of one each.
  std::array<std::vector<Item>, 256> seeds;
  void fill_transitions(int32_t sid) {
    auto& tr = trans[static_cast<size_t>(sid)];
    bool missing = false;
    for (int b = 0; b < 256 && !missing; ++b) missing = tr[static_cast<size_t>(b)] == kUnknown;
    if (!missing) return;
    for (auto& v : seeds) v.clear();
    for (const Item& it : states[static_cast<size_t>(sid)])
      for (const Edge& e : g->nodes[static_cast<size_t>(it.node)].edges)
        if (e.call == kByteEdge)
          for (int b = e.lo; b <= e.hi; ++b) seeds[static_cast<size_t>(b)].push_back({e.to, it.stack});
    for (int b = 0; b < 256; ++b) {
      const auto ub = static_cast<size_t>(b);
      if (trans[static_cast<size_t>(sid)][ub] != kUnknown) continue;
      int32_t r = kDead;
      if (!seeds[ub].empty()) {
        r = kUnknown;
        for (int c = b - 1; c >= 0 && r == kUnknown; --c)
          if (seeds[static_cast<size_t>(c)] == seeds[ub]) r = trans[static_cast<size_t>(sid)][static_cast<size_t>(c)];
        if (r == kUnknown) r = close_and_intern(seeds[ub]);
      }
      trans[static_cast<size_t>(sid)][ub] = r;  // (close_and_intern may grow `trans`: index again)
    }
  }

  bool live(int32_t sid) const { return sid >= 0 && (flags[static_cast<size_t>(sid)] & kLive); }
  bool escapes(int32_t sid) const { return sid >= 0 && (flags[static_cast<size_t>(sid)] & kEscapes); }

  int32_t run(int32_t sid, std::string_view bytes) {
    for (unsigned char b : bytes) {
      if (!live(sid)) return kDead;
      sid = next(sid, b);
    }
    return sid;
  }

  Chain& chain(int32_t p) {
    if (chains.size() <= static_cast<size_t>(p)) chains.resize(states.size());
    if (chains[static_cast<size_t>(p)].known) return chains[static_cast<size_t>(p)];
    fill_transitions(p);
    int32_t to[256];
    for (int b = 0; b < 256; ++b) to[b] = trans[static_cast<size_t>(p)][static_cast<size_t>(b)];
    if (chains.size() < states.size()) chains.resize(states.size());
    // The most frequent live successor.
    // Counted over the distinct successors (few: a state's bytes fall into
    // a handful of classes), not per byte pair.
    std::pair<int32_t, int> counts[256];
    int distinct = 0;
    for (int b = 0; b < 256; ++b) {
      if (!live(to[b])) continue;
      int k = 0;
      while (k < distinct && counts[k].first != to[b]) ++k;
      if (k == distinct) counts[distinct++] = {to[b], 0};
      ++counts[k].second;
    }
    int32_t best = kDead;
    int best_count = 0;
    for (int k = 0; k < distinct; ++k)
      if (counts[k].second > best_count) best = counts[k].first, best_count = counts[k].second;
    Chain& c = chains[static_cast<size_t>(p)];
    c.known = true;
    c.succ = best;
    for (int b = 0; b < 256; ++b)
      if (best >= 0 && to[b] == best) c.via.add(static_cast<uint8_t>(b));
    return c;
  }

  // The bytes that may appear at every one of `h` levels below a node in
  // state `p` such that every path stays live (on p's chain).
  ByteSet levels(int32_t p, uint32_t h) {
    Chain& c0 = chain(p);
    int32_t q = c0.succ;
    if (q < 0 || h == 1 || q == p) return c0.via;
    while (chains[static_cast<size_t>(p)].levels.size() < h - 1) {
      uint32_t k = static_cast<uint32_t>(chains[static_cast<size_t>(p)].levels.size()) + 2;
      ByteSet below = levels(q, k - 1);
      Chain& c = chains[static_cast<size_t>(p)];
      c.levels.push_back(c.via & below);
    }
    return chains[static_cast<size_t>(p)].levels[h - 2];
  }

  // Every token in node i's subtree is accepted from state p (live).
  bool subtree_allowed(uint32_t i, int32_t p) {
    int32_t s = t->summary_of[i];
    if (s < 0) return false;
    const auto& sum = t->summaries[static_cast<size_t>(s)];
    if (sum.height > kMaxChain) return false;
    // The first level decides most cases (a narrow state reads few bytes)
    // before the levels below are worked out.
    if (!sum.bytes.subset_of(chain(p).via)) return false;
    return sum.bytes.subset_of(levels(p, sum.height));
  }

  void set_tokens(uint32_t from, uint32_t to, uint64_t* mask) const {
    for (uint32_t k = from; k < to; ++k) {
      auto id = static_cast<uint32_t>(t->order[k]);
      mask[id >> 6] |= uint64_t{1} << (id & 63);
    }
  }

  // Walks the subtree below trie node `root`, reached in state `sid`.
  // Local walks (opaque stack): tokens consumed inside the fragment are
  // allowed; paths that die after the fragment could have ended (escaped)
  // are `uncertain`. Full walks (real stack): every accepted token.
  template <bool kLocal>
  void walk(uint32_t root, int32_t sid, uint64_t* mask, std::vector<uint32_t>* uncertain) {
    walk_range<kLocal>(root, root + 1, t->next[root], sid, mask, uncertain);
  }
  // The trie nodes [from, end) (whole subtrees below `root`) from `sid` at root.
  template <bool kLocal>
  void walk_range(uint32_t root, uint32_t from, uint32_t end, int32_t sid, uint64_t* mask,
                  std::vector<uint32_t>* uncertain) {
    const uint32_t d0 = t->depth[root];
    st[d0] = sid;
    esc[d0] = kLocal && escapes(sid);
    for (uint32_t i = from; i < end;) {
      const uint32_t d = t->depth[i];
      const int32_t p = st[d - 1];
      if (!live(p)) {  // only local walks descend into states that merely escape
        if (kLocal && esc[d - 1]) uncertain->push_back(i);
        i = t->next[i];
        continue;
      }
      if (t->summary_of[i] >= 0 && subtree_allowed(i, p)) {
        set_tokens(t->tokens_begin(i), t->subtree_tokens_end(i), mask);
        i = t->next[i];
        continue;
      }
      const int32_t ns = next(p, t->byte[i]);
      const bool ok = ns >= 0 && (!kLocal || live(ns) || escapes(ns));
      if (!ok) {
        if (kLocal && esc[d - 1]) uncertain->push_back(i);
        i = t->next[i];
        continue;
      }
      set_tokens(t->tokens_begin(i), t->own_tokens_end(i), mask);
      if (kLocal || live(ns)) {
        st[d] = ns;
        if (kLocal) esc[d] = esc[d - 1] || escapes(ns);
        ++i;
      } else {
        i = t->next[i];
      }
    }
  }

  // The automaton a walk from `nodes` can reach, numbered in discovery
  // order: equal signatures walk the trie identically, in any grammar (so
  // the string content of every schema shares one walk). A walk reads at
  // most the longest token's bytes, so nodes further than that many bytes
  // away (a lower bound: calls and epsilons count none) are recorded only as
  // ids: a string's position with more characters left than any token has
  // looks the same at every position, and a value's walk does not depend on
  // the object members long after it. Empty when over `limit` nodes.
  std::string signature(const std::vector<int32_t>& nodes, size_t limit) {
    // Per grammar node, its id in this signature (valid where sig_stamp
    // matches the current stamp): no allocation per node.
    if (sig_id.size() != g->nodes.size()) sig_id.assign(g->nodes.size(), 0), sig_stamp.assign(g->nodes.size(), 0);
    if (++stamp == 0) std::fill(sig_stamp.begin(), sig_stamp.end(), 0), stamp = 1;
    sig_order.clear();
    sig_dist.clear();
    sig_done.clear();
    sig_queue.clear();
    // 0-1 breadth-first: a node is expanded when first popped, at its least
    // distance; ids are given in discovery order.
    auto visit = [&](int32_t n, uint32_t d, bool front) {
      const auto k = static_cast<size_t>(n);
      if (sig_stamp[k] != stamp) {
        sig_stamp[k] = stamp;
        sig_id[k] = static_cast<int32_t>(sig_order.size());
        sig_order.push_back(n), sig_dist.push_back(UINT32_MAX), sig_done.push_back(0);
      }
      const int32_t id = sig_id[k];
      if (d < sig_dist[static_cast<size_t>(id)]) {
        sig_dist[static_cast<size_t>(id)] = d;
        if (front) sig_queue.push_front(id);
        else sig_queue.push_back(id);
      }
      return id;
    };
    for (int32_t n : nodes) visit(n, 0, false);
    const uint32_t reach = t->max_depth;
    std::string sig;
    while (!sig_queue.empty()) {
      const auto i = static_cast<size_t>(sig_queue.front());
      sig_queue.pop_front();
      if (sig_done[i]) continue;
      sig_done[i] = 1;
      if (sig_order.size() > limit) return {};
      const uint32_t d = sig_dist[i];
      if (d > reach) continue;
      const Node& n = g->nodes[static_cast<size_t>(sig_order[i])];
      int32_t head[2] = {static_cast<int32_t>(i), n.rule_end ? -1 : -2};
      sig.append(reinterpret_cast<const char*>(head), sizeof head);
      for (const Edge& e : n.edges) {
        int32_t fields[4] = {e.lo | (e.hi << 8), e.call, 0, 0};
        if (e.call >= 0) {
          const Rule& r = g->rules[static_cast<size_t>(e.call)];
          fields[1] = visit(r.start, d, true);
          fields[3] = visit(r.end, d, true);
        }
        fields[2] = visit(e.to, e.call == kByteEdge ? d + 1 : d, e.call != kByteEdge);
        sig.append(reinterpret_cast<const char*>(fields), sizeof fields);
      }
    }
    return sig;
  }
  std::vector<int32_t> sig_id;
  std::vector<uint32_t> sig_stamp;
  uint32_t stamp = 0;
  std::vector<int32_t> sig_order;
  std::vector<uint32_t> sig_dist;
  std::vector<char> sig_done;
  std::deque<int32_t> sig_queue;

  // Derived local walks. When most first bytes take `sid` to the state they
  // take q (its dominant successor) to, the tokens of those bytes' trie
  // subtrees fare the same from both: sid's walk is q's, with the subtrees
  // of the differing bytes cleared and walked from sid. A key prefix inside
  // an object that allows extra members is such a state (any byte but the
  // names' next ones continues a free key), and deriving it costs the few
  // differing subtrees instead of a walk of the whole vocabulary.
  int derive_depth = 0;
  static constexpr int kMaxDeriveDepth = 4;
  bool derive_local(int32_t sid, Local& out) {
    if (derive_depth >= kMaxDeriveDepth || !live(sid)) return false;
    const int32_t q = chain(sid).succ;
    if (q < 0 || q == sid || escapes(q) != escapes(sid)) return false;
    std::vector<int32_t> qnodes;  // q's walk is a local walk when all its items are at the bottom
    for (const Item& it : states[static_cast<size_t>(q)]) {
      if (it.stack != kBottom) return false;
      qnodes.push_back(it.node);
    }
    std::array<bool, 256> differs{};
    size_t differing_tokens = 0;
    for (int b = 0; b < 256; ++b) {
      const auto by = static_cast<uint8_t>(b);
      differs[by] = next(sid, by) != next(q, by);
      const uint32_t c = t->root_child[by];
      if (differs[by] && c != 0) differing_tokens += t->subtree_tokens_end(c) - t->tokens_begin(c);
    }
    if (differing_tokens * 4 > trie->vocab_size()) return false;
    ++derive_depth;
    const Local& lq = local_for(qnodes);
    --derive_depth;
    out.allowed = lq.allowed;
    for (uint32_t u : lq.uncertain)
      if (!differs[t->first_byte(u)]) out.uncertain.push_back(u);
    for (int b = 0; b < 256; ++b) {
      const uint32_t c = t->root_child[static_cast<uint8_t>(b)];
      if (!differs[static_cast<uint8_t>(b)] || c == 0) continue;
      for (uint32_t k = t->tokens_begin(c); k < t->subtree_tokens_end(c); ++k) {
        auto id = static_cast<uint32_t>(t->order[k]);
        out.allowed[id >> 6] &= ~(uint64_t{1} << (id & 63));
      }
      walk_range<true>(0, c, t->next[c], sid, out.allowed.data(), &out.uncertain);
    }
    return true;
  }

  const Local& local_for(const std::vector<int32_t>& nodes) {
    std::string k(reinterpret_cast<const char*>(nodes.data()), nodes.size() * sizeof(int32_t));
    auto it = locals.find(k);
    if (it != locals.end()) return *it->second;
    std::vector<Item> from;
    for (int32_t n : nodes) from.push_back({n, kBottom});
    const int32_t sid = close_and_intern(from);
    // Only a state most bytes keep alive (string content, free text) walks
    // much of the vocabulary: its walk is worth a signature to share it. A
    // narrow state's walk is cheaper than its signature.
    size_t wide = 0;
    if (live(sid)) {
      const ByteSet& via = chain(sid).via;
      for (uint64_t w : via.w) wide += static_cast<size_t>(__builtin_popcountll(w));
    }
    std::string sig = wide >= 64 ? signature(nodes, kMaxSignatureNodes) : std::string();
    if (!sig.empty()) {
      if (auto shared = t->shared_local(sig)) return *locals.emplace(std::move(k), shared).first->second;
    }
    auto made = std::make_shared<Local>();
    made->allowed.assign(words, 0);
    if (sid >= 0 && t->size() > 0 && !(wide >= 64 && derive_local(sid, *made)))
      walk<true>(0, sid, made->allowed.data(), &made->uncertain);
    if (!sig.empty()) t->share_local(sig, made);
    return *locals.emplace(std::move(k), std::move(made)).first->second;
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
    for (const Item& it : states[static_cast<size_t>(current)]) groups[it.stack].push_back(it.node);
    std::vector<const Local*> parts;
    for (auto& [stack, nodes] : groups) {
      std::sort(nodes.begin(), nodes.end());
      parts.push_back(&local_for(nodes));
    }
    for (const Local* l : parts)
      for (size_t w = 0; w < words; ++w) mask[w] |= l->allowed[w];
    for (const Local* l : parts)
      for (uint32_t node : l->uncertain) {
        t->path(node, path);
        int32_t s = run(current, path);
        if (s < 0) continue;
        set_tokens(t->tokens_begin(node), t->own_tokens_end(node), mask.data());
        if (live(s)) walk<false>(node, s, mask.data(), nullptr);
      }
    if (masks.size() >= kMaxCachedMasks) masks.clear();
    masks.emplace(current, mask);
  }

  void reset() {
    std::vector<Item> from{{g->rules[static_cast<size_t>(g->root)].start, 0}};
    current = close_and_intern(from);
  }
};

Matcher::Matcher(std::shared_ptr<const Grammar> grammar, std::shared_ptr<const TokenTrie> trie)
    : impl_(std::make_unique<Impl>()) {
  impl_->g = std::move(grammar);
  impl_->trie = std::move(trie);
  impl_->t = &impl_->trie->impl();
  impl_->st.assign(impl_->t->max_depth + 1, 0);
  impl_->esc.assign(impl_->t->max_depth + 1, 0);
  impl_->has_bytes.assign(impl_->g->nodes.size(), 0);
  impl_->tails.assign(impl_->g->nodes.size(), -1);
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

void Matcher::compute_mask_reference(std::vector<uint64_t>& mask) {
  auto& m = *impl_;
  mask.assign(m.words, 0);
  if (m.current < 0) return;
  for (size_t id = 0; id < m.trie->vocab_size(); ++id) {
    const std::string& b = m.trie->bytes(static_cast<TokenId>(id));
    if (b.empty()) continue;
    int32_t s = m.run(m.current, b);
    if (s >= 0 && (m.live(s) || (m.flags[static_cast<size_t>(s)] & Impl::kAccepting)))
      mask[id >> 6] |= uint64_t{1} << (id & 63);
  }
}

bool Matcher::advance_bytes(std::string_view bytes) {
  auto& m = *impl_;
  if (m.current < 0) return false;
  int32_t s = m.run(m.current, bytes);
  if (s < 0) return false;
  if (!m.live(s) && !(m.flags[static_cast<size_t>(s)] & Impl::kAccepting)) return false;
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
  return impl_->current >= 0 && (impl_->flags[static_cast<size_t>(impl_->current)] & Impl::kAccepting);
}

bool Matcher::is_terminated() const { return impl_->current < 0 || !impl_->live(impl_->current); }

void Matcher::reset() { impl_->reset(); }

}  // namespace allm::grammar
