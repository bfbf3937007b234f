// An out-of-tree tokenizer plugin: one token per UTF-8 byte (ids 0-255), BOS
// 256, EOS 257, for a directory holding a `byte_tokenizer.json` marker. The
// host picks it by can_load (allm/tokenizer_loader.hpp), like any other.
#include <fstream>
#include <string>

#include "allm/error.hpp"
#include "allm/plugin.hpp"
#include "allm/tokenizer.hpp"

namespace {

constexpr allm::TokenId kBos = 256, kEos = 257;

class ByteTokenizer final : public allm::Tokenizer {
 public:
  std::vector<allm::TokenId> encode(std::string_view text, bool add_special_tokens) const override {
    std::vector<allm::TokenId> ids;
    if (add_special_tokens) ids.push_back(kBos);
    for (unsigned char c : text) ids.push_back(c);
    return ids;
  }
  std::string decode(const std::vector<allm::TokenId>& ids, bool skip_special_tokens) const override {
    std::string out;
    for (allm::TokenId id : ids) {
      if (id < 0 || id > kEos) throw allm::TokenizerError("byte tokenizer: id " + std::to_string(id) + " out of range");
      if (id < 256) out += static_cast<char>(id);
      else if (!skip_special_tokens) out += id == kBos ? "<s>" : "</s>";
    }
    return out;
  }
  size_t vocab_size() const override { return 258; }
  std::optional<std::string> id_to_token(allm::TokenId id) const override {
    if (id < 0 || id > kEos) return std::nullopt;
    return id < 256 ? std::string(1, static_cast<char>(id)) : std::string(id == kBos ? "<s>" : "</s>");
  }
  std::optional<allm::TokenId> token_to_id(std::string_view token) const override {
    if (token.size() == 1) return static_cast<unsigned char>(token[0]);
    if (token == "<s>") return kBos;
    if (token == "</s>") return kEos;
    return std::nullopt;
  }
  bool is_special(allm::TokenId id) const override { return id >= 256; }
  std::optional<allm::TokenId> bos_id() const override { return kBos; }
  std::optional<allm::TokenId> eos_id() const override { return kEos; }
  bool adds_bos() const override { return true; }
};

class ByteTokenizerFactory final : public allm::TokenizerFactory {
 public:
  bool can_load(const std::filesystem::path& path) const override {
    std::error_code ec;
    return std::filesystem::is_regular_file(path / "byte_tokenizer.json", ec);
  }
  std::unique_ptr<allm::Tokenizer> load(const std::filesystem::path& path) const override {
    if (!can_load(path)) throw allm::TokenizerError(path.string() + ": no byte_tokenizer.json");
    return std::make_unique<ByteTokenizer>();
  }
  std::unique_ptr<allm::Tokenizer> load_json(const std::string&, const std::string& origin) const override {
    throw allm::UnsupportedError(origin + ": the byte tokenizer reads no tokenizer.json documents");
  }
};

ByteTokenizerFactory factory;
const allm::Component components[] = {allm::tokenizer_component("bytes", 10, factory)};

}  // namespace

ALLM_DEFINE_PLUGIN("byte-tokenizer", "1.0.0", "One token per byte (directories with byte_tokenizer.json)", components)
