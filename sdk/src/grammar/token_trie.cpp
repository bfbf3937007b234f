// The vocabulary as bytes: each token's byte spelling from the tokenizer's
// vocabulary strings, and the byte trie masks are computed over.
#include <algorithm>
#include <numeric>

#include "grammar_ir.hpp"
#include "token_trie.hpp"

namespace allm::grammar {

namespace {
// GPT-2's byte-level alphabet: printable Latin-1 bytes stand for themselves,
// the others for U+0100 upwards in byte order.
int byte_level_to_byte(uint32_t cp) {
  static const std::vector<int> table = [] {
    std::vector<int> t(512, -1);
    auto printable = [](int b) { return (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF); };
    int next = 0;
    for (int b = 0; b < 256; ++b) t[static_cast<size_t>(printable(b) ? b : 256 + next++)] = b;
    return t;
  }();
  return cp < 512 ? table[cp] : -1;
}

bool decode_utf8(std::string_view s, std::vector<uint32_t>& out) {
  out.clear();
  for (size_t i = 0; i < s.size();) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    int n = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    if (n == 0 || i + static_cast<size_t>(n) > s.size()) return false;
    uint32_t cp = n == 1 ? c : (c & (0x7F >> n));
    for (int k = 1; k < n; ++k) cp = (cp << 6) | (static_cast<unsigned char>(s[i + static_cast<size_t>(k)]) & 0x3F);
    out.push_back(cp);
    i += static_cast<size_t>(n);
  }
  return true;
}
}  // namespace

std::vector<std::string> token_bytes(const Tokenizer& tok) {
  const size_t n = tok.vocab_size();
  // Byte-level vocabularies spell the space as "Ġ" (U+0120); SentencePiece as "▁".
  bool byte_level = tok.token_to_id("\xC4\xA0").has_value();
  std::vector<std::string> out(n);
  std::vector<uint32_t> cps;
  for (size_t i = 0; i < n; ++i) {
    auto id = static_cast<TokenId>(i);
    if (tok.is_special(id)) continue;
    auto spelled = tok.id_to_token(id);
    if (!spelled || spelled->empty()) continue;
    const std::string& s = *spelled;
    std::string bytes;
    if (byte_level && decode_utf8(s, cps)) {
      bool all = true;
      for (uint32_t cp : cps) {
        int b = byte_level_to_byte(cp);
        if (b < 0) {
          all = false;
          break;
        }
        bytes += static_cast<char>(b);
      }
      if (!all) bytes = s;  // an added token spelled in plain text
    } else if (s.size() == 6 && s.compare(0, 3, "<0x") == 0 && s[5] == '>') {
      bytes += static_cast<char>(std::stoi(s.substr(3, 2), nullptr, 16));
    } else {
      for (size_t k = 0; k < s.size(); ++k) {
        if (s.compare(k, 3, "\xE2\x96\x81") == 0) {
          bytes += ' ';
          k += 2;
        } else {
          bytes += s[k];
        }
      }
    }
    out[i] = std::move(bytes);
  }
  return out;
}

TokenTrie::TokenTrie(std::vector<std::string> token_bytes)
    : bytes_(std::move(token_bytes)), impl_(std::make_unique<Impl>(bytes_)) {}
TokenTrie::~TokenTrie() = default;

TokenTrie::Impl::Impl(const std::vector<std::string>& bytes) {
  std::vector<TokenId> sorted;
  for (size_t i = 0; i < bytes.size(); ++i)
    if (!bytes[i].empty()) sorted.push_back(static_cast<TokenId>(i));
  // Byte order (unsigned), a prefix before its extensions: that is preorder.
  std::sort(sorted.begin(), sorted.end(), [&](TokenId a, TokenId b) {
    return bytes[static_cast<size_t>(a)] < bytes[static_cast<size_t>(b)];
  });
  auto add_node = [&](uint8_t b, uint32_t d, uint32_t par) {
    byte.push_back(b);
    depth.push_back(d);
    parent.push_back(par);
    next.push_back(0);
    first_token.push_back(static_cast<uint32_t>(order.size()));
    max_depth = std::max(max_depth, d);
    return static_cast<uint32_t>(byte.size() - 1);
  };
  std::vector<uint32_t> path_nodes{add_node(0, 0, 0)};  // path_nodes[d]: the open node at depth d
  std::string_view open;  // the bytes of the open path
  auto close_to = [&](size_t keep) {
    while (path_nodes.size() > keep + 1) {
      next[path_nodes.back()] = static_cast<uint32_t>(byte.size());
      path_nodes.pop_back();
    }
  };
  for (TokenId id : sorted) {
    std::string_view b = bytes[static_cast<size_t>(id)];
    size_t common = 0;
    while (common < open.size() && common < b.size() && open[common] == b[common]) ++common;
    close_to(common);
    for (size_t k = common; k < b.size(); ++k)
      path_nodes.push_back(add_node(static_cast<uint8_t>(b[k]), static_cast<uint32_t>(k + 1), path_nodes.back()));
    open = b;
    order.push_back(id);
  }
  close_to(0);
  next[0] = static_cast<uint32_t>(byte.size());
  first_token.push_back(static_cast<uint32_t>(order.size()));

  for (uint32_t c = 1; c < byte.size(); c = next[c]) root_child[byte[c]] = c;

  // Subtree byte sets and heights, children folded into parents (reverse preorder).
  const size_t n = byte.size();
  std::vector<ByteSet> sub(n);
  std::vector<uint32_t> height(n, 1);
  for (size_t i = n; i-- > 1;) {
    sub[i].add(byte[i]);
    sub[parent[i]] |= sub[i];
    height[parent[i]] = std::max(height[parent[i]], height[i] + 1);
  }
  summary_of.assign(n, -1);
  for (uint32_t i = 1; i < n; ++i)
    if (subtree_tokens_end(i) - tokens_begin(i) >= kSummaryTokens) {
      summary_of[i] = static_cast<int32_t>(summaries.size());
      summaries.push_back({sub[i], height[i]});
    }
}

void TokenTrie::Impl::path(uint32_t node, std::string& out) const {
  out.resize(depth[node]);
  for (uint32_t i = node; i != 0; i = parent[i]) out[depth[i] - 1] = static_cast<char>(byte[i]);
}

std::shared_ptr<const TokenTrie::Impl::LocalMask> TokenTrie::Impl::shared_local(const std::string& signature) const {
  std::lock_guard<std::mutex> lock(shared_mutex_);
  auto it = shared_.find(signature);
  return it == shared_.end() ? nullptr : it->second;
}

void TokenTrie::Impl::share_local(const std::string& signature, std::shared_ptr<const LocalMask> mask) const {
  std::lock_guard<std::mutex> lock(shared_mutex_);
  // Bounded: ~16 KB a mask for a 128k vocabulary, and signatures of wide
  // fragments run to hundreds of KB.
  const size_t bytes = signature.size() + mask->allowed.size() * sizeof(uint64_t) + mask->uncertain.size() * sizeof(uint32_t);
  if (shared_.size() >= 4096 || shared_bytes_ + bytes > kMaxSharedBytes) shared_.clear(), shared_bytes_ = 0;
  if (shared_.emplace(signature, std::move(mask)).second) shared_bytes_ += bytes;
}

}  // namespace allm::grammar
