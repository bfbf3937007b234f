#pragma once
// Constrained decoding: a grammar compiled from a JSON Schema, a GBNF text or a
// regex, and a matcher that says, at each step, which tokens of the whole
// vocabulary may come next (docs/structured-output.md).
//
// A grammar is a set of byte-level rules (each a small automaton whose edges are
// byte ranges or calls of other rules); the matcher tracks every live
// (automaton node, call stack) pair, so a token may span several JSON values or
// rule boundaries. Masks are computed by walking a byte trie of the vocabulary
// and pruning at the first byte no live path accepts.
//
// Errors: anything the compiler cannot honour throws InvalidArgumentError
// naming the keyword and its JSON pointer (schemas) or the position (GBNF,
// regex) — a constraint is never silently dropped.
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "allm/tokenizer.hpp"

namespace allm::grammar {

struct Grammar;  // compiled form, opaque (sdk/src/grammar/grammar_ir.hpp)

std::shared_ptr<const Grammar> compile_json_schema(const nlohmann::ordered_json& schema);
std::shared_ptr<const Grammar> compile_json_schema_text(std::string_view schema_json);
std::shared_ptr<const Grammar> compile_gbnf(std::string_view text);
std::shared_ptr<const Grammar> compile_regex(std::string_view pattern);

// The byte spelling of every token (empty for special/control tokens, which a
// grammar never allows), arranged as a trie for mask computation (its layout
// is private to the engine: sdk/src/grammar/token_trie.hpp).
class TokenTrie {
 public:
  explicit TokenTrie(std::vector<std::string> token_bytes);
  ~TokenTrie();
  size_t vocab_size() const { return bytes_.size(); }
  const std::string& bytes(TokenId id) const { return bytes_[static_cast<size_t>(id)]; }

  struct Impl;
  const Impl& impl() const { return *impl_; }

 private:
  std::vector<std::string> bytes_;
  std::unique_ptr<Impl> impl_;
};

// Each token's bytes from a tokenizer: byte-level BPE spellings ("Ġ" = space)
// are mapped back through GPT-2's alphabet; SentencePiece's "▁" is a space and
// "<0xNN>" a byte; special tokens get no bytes.
std::vector<std::string> token_bytes(const Tokenizer& tokenizer);

class Matcher {
 public:
  Matcher(std::shared_ptr<const Grammar> grammar, std::shared_ptr<const TokenTrie> trie);
  ~Matcher();
  Matcher(Matcher&&) noexcept;

  // Bit i of `mask` (64 per word) set = token i allowed next. Resized to fit.
  void compute_mask(std::vector<uint64_t>& mask);
  // The same mask the straightforward way: each token's bytes run from the
  // current state, one token at a time, no trie and no caches. Slow (the whole
  // vocabulary per call); the oracle compute_mask is tested against.
  void compute_mask_reference(std::vector<uint64_t>& mask);
  // Consumes the token's bytes; false (state unchanged) when it is not allowed.
  bool advance_token(TokenId id);
  bool advance_bytes(std::string_view bytes);
  // The text so far is a complete sentence of the grammar (EOS may come).
  bool is_accepting() const;
  // No continuation is possible (accepting with nothing more allowed).
  bool is_terminated() const;
  void reset();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Sets the logits of tokens `m` does not allow to -inf; the `eos_ids` stay
// allowed only when the text so far is complete (and are the only choice once
// nothing else may follow). Ids past the vocabulary are disallowed.
void mask_logits(Matcher& m, float* logits, int64_t vocab, const std::vector<int32_t>& eos_ids);

// Literal text around JSON values under schemas, one or more in a row: the
// shape of a reply made of tool calls (allm/tool_calls.hpp builds these).
// The grammar is open, then items separated by `separator`, then close; each
// item is one of `choices`: before, a JSON value valid under schema, after.
struct SchemaItem {
  std::string before;
  nlohmann::ordered_json schema;
  std::string after;
  std::string where;  // names the schema in compile errors ("tools[0].function.parameters")
};
struct ItemList {
  std::string open, separator, close;
  std::vector<SchemaItem> choices;
  bool repeat = false;  // false: exactly one item; true: one or more
};
std::shared_ptr<const Grammar> compile_item_list(const ItemList& list);

// Compiles {kind: json_schema|gbnf|regex|tool_calls, source} (see OutputGrammar).
std::shared_ptr<const Grammar> compile(const std::string& kind, const std::string& source);

}  // namespace allm::grammar
