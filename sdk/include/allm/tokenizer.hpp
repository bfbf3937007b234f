#pragma once
// Tokenizer component interface. A tokenizer plugin registers a TokenizerFactory
// under a name (e.g. "hf" for tokenizer.json); the host asks each factory whether
// it can load a given source and uses the best one.
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace allm {

using TokenId = int32_t;

class Tokenizer {
 public:
  virtual ~Tokenizer() = default;

  // Text -> ids. `add_special_tokens` runs the post-processor (e.g. adds BOS).
  // Invalid UTF-8 in `text` throws TokenizerError naming the byte offset.
  virtual std::vector<TokenId> encode(std::string_view text, bool add_special_tokens) const = 0;
  // Ids -> text through the decoder pipeline.
  virtual std::string decode(const std::vector<TokenId>& ids, bool skip_special_tokens) const = 0;

  virtual size_t vocab_size() const = 0;
  // The token's string as stored in the vocabulary (e.g. "Ġhello"), or nullopt.
  virtual std::optional<std::string> id_to_token(TokenId id) const = 0;
  virtual std::optional<TokenId> token_to_id(std::string_view token) const = 0;
  virtual bool is_special(TokenId id) const = 0;

  virtual std::optional<TokenId> bos_id() const = 0;
  virtual std::optional<TokenId> eos_id() const = 0;
  // Whether encode(..., true) prepends BOS (used to avoid a doubled BOS when a
  // chat template already rendered it).
  virtual bool adds_bos() const = 0;
};

// Incremental detokenizer: feed ids as they are generated, get back text that is
// safe to print — never a partial UTF-8 character.
class StreamDecoder {
 public:
  StreamDecoder(const Tokenizer& tokenizer, bool skip_special_tokens = true);
  // Returns the newly completed text (possibly empty).
  std::string push(TokenId id);
  // Whatever is left at the end (incomplete bytes become U+FFFD).
  std::string finish();
  void reset();

 private:
  const Tokenizer* tokenizer_;
  bool skip_special_;
  std::vector<TokenId> ids_;
  size_t emitted_bytes_ = 0;
};

class TokenizerFactory {
 public:
  virtual ~TokenizerFactory() = default;
  // True when this factory understands `path` (a tokenizer.json, a model
  // directory, ...) — cheap, no full parse.
  virtual bool can_load(const std::filesystem::path& path) const = 0;
  virtual std::unique_ptr<Tokenizer> load(const std::filesystem::path& path) const = 0;
  // Build from an in-memory tokenizer.json document (e.g. converted from a GGUF
  // vocabulary). `origin` names the source in error messages.
  virtual std::unique_ptr<Tokenizer> load_json(const std::string& tokenizer_json,
                                               const std::string& origin) const = 0;
};

}  // namespace allm
