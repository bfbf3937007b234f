// The vocabulary as bytes: each token's byte spelling from the tokenizer's
// vocabulary strings, and the byte trie masks are computed over.
#include <algorithm>
#include <numeric>

#include "grammar_ir.hpp"

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

TokenTrie::TokenTrie(std::vector<std::string> token_bytes) : bytes_(std::move(token_bytes)) {
  std::vector<TokenId> order;
  for (size_t i = 0; i < bytes_.size(); ++i)
    if (!bytes_[i].empty()) order.push_back(static_cast<TokenId>(i));
  std::sort(order.begin(), order.end(), [&](TokenId a, TokenId b) {
    return bytes_[static_cast<size_t>(a)] < bytes_[static_cast<size_t>(b)];
  });
  // Builds node `self` from the sorted tokens [lo, hi) sharing `depth` bytes.
  struct Task {
    uint32_t self;
    size_t lo, hi, depth;
  };
  nodes.emplace_back();
  std::vector<Task> tasks{{0, 0, order.size(), 0}};
  auto byte_at = [&](size_t k, size_t depth) {
    return static_cast<uint8_t>(bytes_[static_cast<size_t>(order[k])][depth]);
  };
  while (!tasks.empty()) {
    Task t = tasks.back();
    tasks.pop_back();
    size_t k = t.lo;
    nodes[t.self].first_token = static_cast<uint32_t>(tokens.size());
    while (k < t.hi && bytes_[static_cast<size_t>(order[k])].size() == t.depth) tokens.push_back(order[k++]);
    nodes[t.self].num_tokens = static_cast<uint32_t>(tokens.size()) - nodes[t.self].first_token;
    nodes[t.self].first_child = static_cast<uint32_t>(children.size());
    std::vector<Task> mine;
    while (k < t.hi) {
      uint8_t b = byte_at(k, t.depth);
      size_t j = k;
      while (j < t.hi && byte_at(j, t.depth) == b) ++j;
      auto child = static_cast<uint32_t>(nodes.size());
      nodes.emplace_back();
      children.push_back({b, child});
      mine.push_back({child, k, j, t.depth + 1});
      k = j;
    }
    nodes[t.self].num_children = static_cast<uint32_t>(children.size()) - nodes[t.self].first_child;
    tasks.insert(tasks.end(), mine.begin(), mine.end());
  }
}

std::shared_ptr<const TokenTrie::LocalMask> TokenTrie::shared_local(const std::string& signature) const {
  std::lock_guard<std::mutex> lock(shared_mutex_);
  auto it = shared_.find(signature);
  return it == shared_.end() ? nullptr : it->second;
}

void TokenTrie::share_local(const std::string& signature, std::shared_ptr<const LocalMask> mask) const {
  std::lock_guard<std::mutex> lock(shared_mutex_);
  if (shared_.size() >= 4096) shared_.clear();  // bounded: ~16 KB a mask for a 128k vocabulary
  shared_.emplace(signature, std::move(mask));
}

}  // namespace allm::grammar
