// The matcher: the set of live (node, call stack) items of a grammar, advanced
// byte by byte; masks by a depth-first walk of the vocabulary's byte trie that
// prunes at the first byte no item accepts, cached per state.
#include <algorithm>
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

struct Matcher::Impl {
  std::shared_ptr<const Grammar> g;
  std::shared_ptr<const TokenTrie> trie;
  std::vector<char> has_bytes;  // node has a byte edge
  struct Frame {
    int32_t ret, parent, depth;
  };
  std::vector<Frame> stacks{{-1, -1, 0}};  // 0 = the empty stack
  std::unordered_map<uint64_t, int32_t> stack_ids;
  std::vector<Item> state;
  std::vector<std::vector<Item>> bufs;
  std::vector<Item> work;
  std::unordered_map<std::string, std::vector<uint64_t>> cache;
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

  // Expands epsilon moves, calls and returns; keeps the items that can read a
  // byte or that accept at the root, sorted (a canonical form for the cache).
  void close(std::vector<Item>& items) {
    work.assign(items.begin(), items.end());
    items.clear();
    for (size_t i = 0; i < work.size(); ++i) {
      Item it = work[i];
      const Node& n = g->nodes[static_cast<size_t>(it.node)];
      if (n.rule_end) {
        if (it.stack == 0) {
          items.push_back(it);
        } else {
          const Frame& f = stacks[static_cast<size_t>(it.stack)];
          add_unique(work, {f.ret, f.parent});
        }
      }
      if (has_bytes[static_cast<size_t>(it.node)]) items.push_back(it);
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
    std::sort(items.begin(), items.end());
    items.erase(std::unique(items.begin(), items.end()), items.end());
  }

  void step(const std::vector<Item>& from, uint8_t b, std::vector<Item>& out) {
    out.clear();
    for (const Item& it : from)
      for (const Edge& e : g->nodes[static_cast<size_t>(it.node)].edges)
        if (e.call == kByteEdge && b >= e.lo && b <= e.hi) add_unique(out, {e.to, it.stack});
    if (!out.empty()) close(out);
  }

  bool accepting(const std::vector<Item>& s) const {
    for (const Item& it : s)
      if (it.stack == 0 && g->nodes[static_cast<size_t>(it.node)].rule_end) return true;
    return false;
  }

  void walk(uint32_t tnode, size_t depth, std::vector<uint64_t>& mask) {
    const auto& tn = trie->nodes[tnode];
    if (bufs.size() <= depth + 1) bufs.resize(depth + 2);
    for (uint32_t c = 0; c < tn.num_children; ++c) {
      const auto& ch = trie->children[tn.first_child + c];
      std::vector<Item>& next = bufs[depth + 1];
      step(bufs[depth], ch.byte, next);
      if (next.empty()) continue;
      const auto& cn = trie->nodes[ch.node];
      for (uint32_t t = 0; t < cn.num_tokens; ++t) {
        auto id = static_cast<uint32_t>(trie->tokens[cn.first_token + t]);
        mask[id >> 6] |= uint64_t{1} << (id & 63);
      }
      if (cn.num_children) walk(ch.node, depth + 1, mask);
    }
  }

  void reset() {
    state.clear();
    state.push_back({g->rules[static_cast<size_t>(g->root)].start, 0});
    close(state);
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
  auto& m = *impl_;
  std::string key(reinterpret_cast<const char*>(m.state.data()), m.state.size() * sizeof(Item));
  auto it = m.cache.find(key);
  if (it != m.cache.end()) {
    mask = it->second;
    return;
  }
  mask.assign(m.words, 0);
  if (m.bufs.empty()) m.bufs.resize(1);
  m.bufs[0] = m.state;
  if (!m.trie->nodes.empty()) m.walk(0, 0, mask);
  if (m.cache.size() >= kMaxCachedMasks) m.cache.clear();
  m.cache.emplace(std::move(key), mask);
}

bool Matcher::advance_bytes(std::string_view bytes) {
  auto& m = *impl_;
  std::vector<Item> cur = m.state, next;
  for (unsigned char b : bytes) {
    m.step(cur, b, next);
    if (next.empty()) return false;
    std::swap(cur, next);
  }
  m.state = std::move(cur);
  return true;
}

bool Matcher::advance_token(TokenId id) {
  if (id < 0 || static_cast<size_t>(id) >= impl_->trie->vocab_size()) return false;
  const std::string& b = impl_->trie->bytes(id);
  if (b.empty()) return false;
  return advance_bytes(b);
}

bool Matcher::is_accepting() const { return impl_->accepting(impl_->state); }

bool Matcher::is_terminated() const {
  for (const Item& it : impl_->state)
    if (impl_->has_bytes[static_cast<size_t>(it.node)]) return false;
  return true;
}

void Matcher::reset() { impl_->reset(); }

}  // namespace allm::grammar
