#pragma once
// The vocabulary's byte trie as the matcher walks it. Nodes are numbered in
// depth-first preorder (children in byte order), so a node's subtree is the
// contiguous range [i, next[i]) and the tokens of the subtree the contiguous
// range order[first_token[i], first_token[next[i]]): a walk that rejects a
// node skips its whole subtree with one assignment, and a walk that knows the
// whole subtree is allowed sets its tokens without visiting it.
#include <array>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "allm/grammar.hpp"

namespace allm::grammar {

// A set of bytes, 64 per word.
struct ByteSet {
  std::array<uint64_t, 4> w{};
  void add(uint8_t b) { w[b >> 6] |= uint64_t{1} << (b & 63); }
  bool has(uint8_t b) const { return (w[b >> 6] >> (b & 63)) & 1; }
  bool empty() const { return (w[0] | w[1] | w[2] | w[3]) == 0; }
  bool subset_of(const ByteSet& o) const {
    return ((w[0] & ~o.w[0]) | (w[1] & ~o.w[1]) | (w[2] & ~o.w[2]) | (w[3] & ~o.w[3])) == 0;
  }
  ByteSet operator&(const ByteSet& o) const { return {{w[0] & o.w[0], w[1] & o.w[1], w[2] & o.w[2], w[3] & o.w[3]}}; }
  ByteSet& operator|=(const ByteSet& o) {
    for (size_t k = 0; k < 4; ++k) w[k] |= o.w[k];
    return *this;
  }
};

struct TokenTrie::Impl {
  // Node 0 is the root (the empty prefix); node i > 0 is reached from
  // parent[i] by byte[i] and lies at depth[i] (bytes from the root).
  std::vector<uint8_t> byte;
  std::vector<uint32_t> depth, parent, next;
  std::vector<uint32_t> first_token;  // one more than there are nodes
  std::vector<TokenId> order;         // token ids, by the preorder of the node each ends at
  uint32_t max_depth = 0;
  // The depth-1 node for each first byte (0: no token starts with it).
  std::array<uint32_t, 256> root_child{};

  // Subtrees holding at least kSummaryTokens tokens have a summary: every
  // byte on an edge of the subtree (the node's own byte included) and its
  // height (1 = the node alone). A state that reads any of those bytes, at
  // each of `height` levels, into a live state allows the whole subtree.
  static constexpr uint32_t kSummaryTokens = 16;
  struct Summary {
    ByteSet bytes;
    uint32_t height = 0;
  };
  std::vector<int32_t> summary_of;  // index into summaries, or -1
  std::vector<Summary> summaries;

  size_t size() const { return byte.size(); }
  uint32_t tokens_begin(uint32_t node) const { return first_token[node]; }
  uint32_t own_tokens_end(uint32_t node) const { return first_token[node + 1]; }
  uint32_t subtree_tokens_end(uint32_t node) const { return first_token[next[node]]; }
  // The first byte of the bytes from the root to `node` (depth >= 1).
  uint8_t first_byte(uint32_t node) const {
    while (depth[node] > 1) node = parent[node];
    return byte[node];
  }
  // The bytes from the root to `node`, into `out`.
  void path(uint32_t node, std::string& out) const;

  // Masks of grammar fragments, shared by every matcher over this vocabulary
  // (keyed by the fragment's automaton; see matcher.cpp). Thread-safe.
  struct LocalMask {
    std::vector<uint64_t> allowed;   // by token id
    std::vector<uint32_t> uncertain;  // trie nodes whose subtree depends on the caller
  };
  std::shared_ptr<const LocalMask> shared_local(const std::string& signature) const;
  void share_local(const std::string& signature, std::shared_ptr<const LocalMask> mask) const;

  explicit Impl(const std::vector<std::string>& token_bytes);

 private:
  mutable std::mutex shared_mutex_;
  mutable std::unordered_map<std::string, std::shared_ptr<const LocalMask>> shared_;
  mutable size_t shared_bytes_ = 0;
  static constexpr size_t kMaxSharedBytes = size_t{256} << 20;
};

}  // namespace allm::grammar
