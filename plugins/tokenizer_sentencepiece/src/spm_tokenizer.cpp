#include "spm_tokenizer.hpp"

#include <sentencepiece_processor.h>

#include <cstdio>

#include "allm/error.hpp"

namespace allm::spm {

namespace {

using nlohmann::json;

constexpr std::string_view kMetaSpace = "\xE2\x96\x81";  // U+2581, SentencePiece's space

// Offset of the first byte of `s` that does not start a valid UTF-8 sequence.
std::optional<size_t> first_invalid_utf8(std::string_view s) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  for (size_t i = 0; i < s.size();) {
    const unsigned char b = p[i];
    size_t n = b < 0x80 ? 1 : (b >= 0xC2 && b < 0xE0) ? 2 : (b >= 0xE0 && b < 0xF0) ? 3 : (b >= 0xF0 && b < 0xF5) ? 4 : 0;
    if (n == 0 || i + n > s.size()) return i;
    for (size_t k = 1; k < n; ++k)
      if ((p[i + k] & 0xC0) != 0x80) return i;
    if (n == 3 && ((b == 0xE0 && p[i + 1] < 0xA0) || (b == 0xED && p[i + 1] >= 0xA0))) return i;  // overlong, surrogate
    if (n == 4 && ((b == 0xF0 && p[i + 1] < 0x90) || (b == 0xF4 && p[i + 1] >= 0x90))) return i;  // overlong, > U+10FFFF
    i += n;
  }
  return std::nullopt;
}

// tokenizer_config.json spells a token as a string or {"content": ...}.
std::optional<std::string> token_text(const json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_object() && v.contains("content") && v["content"].is_string()) return v["content"].get<std::string>();
  return std::nullopt;
}

bool flag(const json& config, const char* key, bool fallback, const std::string& origin) {
  auto it = config.find(key);
  if (it == config.end() || it->is_null()) return fallback;
  if (!it->is_boolean()) throw TokenizerError(origin + ": " + key + " must be true or false, got " + it->dump());
  return it->get<bool>();
}

// transformers' clean_up_tokenization (only when the config asks for it).
std::string clean_up_spaces(std::string s) {
  static const std::pair<std::string_view, std::string_view> kRules[] = {
      {" .", "."}, {" ?", "?"}, {" !", "!"}, {" ,", ","}, {" ' ", "'"},
      {" n't", "n't"}, {" 'm", "'m"}, {" 's", "'s"}, {" 've", "'ve"}, {" 're", "'re"}};
  for (const auto& [from, to] : kRules)
    for (size_t at = s.find(from); at != std::string::npos; at = s.find(from, at + to.size()))
      s.replace(at, from.size(), to);
  return s;
}

}  // namespace

SpmTokenizer::SpmTokenizer(const std::filesystem::path& model_file, const json& config)
    : sp_(std::make_unique<sentencepiece::SentencePieceProcessor>()) {
  const auto status = sp_->Load(model_file.string());
  if (!status.ok()) throw TokenizerError(model_file.string() + ": not a SentencePiece model (" + status.ToString() + ")");
  sp_size_ = vocab_size_ = static_cast<size_t>(sp_->GetPieceSize());
  const std::string origin = (model_file.parent_path() / "tokenizer_config.json").string();
  read_config(config.is_object() ? config : json::object(), origin);
}

SpmTokenizer::~SpmTokenizer() = default;

void SpmTokenizer::read_config(const json& config, const std::string& origin) {
  if (!flag(config, "legacy", true, origin))
    throw UnsupportedError(origin + ": legacy: false (SentencePiece without the dummy prefix after special tokens) "
                           "is not supported by the sentencepiece tokenizer; use the checkpoint's tokenizer.json");
  add_prefix_space_ = flag(config, "add_prefix_space", true, origin);
  specials_.add_bos = flag(config, "add_bos_token", true, origin);
  specials_.add_eos = flag(config, "add_eos_token", false, origin);
  clean_up_tokenization_spaces_ = flag(config, "clean_up_tokenization_spaces", false, origin);

  auto add = [&](AddedToken t) {
    if (specials_.added_ids.count(t.text)) return;
    specials_.added_ids[t.text] = t.id;
    specials_.added_texts[t.id] = t.text;
    vocab_size_ = std::max(vocab_size_, static_cast<size_t>(t.id) + 1);
    specials_.added.push_back(std::move(t));
  };
  if (auto it = config.find("added_tokens_decoder"); it != config.end() && it->is_object()) {
    for (const auto& [key, v] : it->items()) {
      const std::string at = origin + ": added_tokens_decoder." + key;
      char* end = nullptr;
      const long id = std::strtol(key.c_str(), &end, 10);
      if (key.empty() || *end != '\0' || id < 0 || id > INT32_MAX) throw TokenizerError(at + ": the key is not a token id");
      const auto text = token_text(v);
      if (!text || text->empty()) throw TokenizerError(at + ": no \"content\" string");
      if (static_cast<size_t>(id) < sp_size_ && sp_->IdToPiece(static_cast<int>(id)) != *text)
        throw TokenizerError(at + ": \"" + *text + "\" is piece \"" + sp_->IdToPiece(static_cast<int>(id)) +
                             "\" in tokenizer.model");
      add({*text, static_cast<TokenId>(id), v.is_object() && v.value("lstrip", false),
           v.is_object() && v.value("rstrip", false)});
    }
  }
  // The special tokens: named by the config, else the model's own pieces
  // (LlamaTokenizer's <s>, </s>, <unk>; Gemma's <bos>, <eos>, <unk>, <pad>).
  auto special = [&](const std::optional<std::string>& text, const std::string& what) -> std::optional<TokenId> {
    if (!text) return std::nullopt;
    std::optional<TokenId> id;
    if (auto a = specials_.added_ids.find(*text); a != specials_.added_ids.end()) id = a->second;
    else if (const int p = sp_->PieceToId(*text); sp_->IdToPiece(p) == *text) id = p;
    if (!id) throw TokenizerError(origin + ": " + what + " \"" + *text + "\" is not a token of tokenizer.model");
    add({*text, *id, false, false});
    specials_.special_ids.insert(*id);
    return id;
  };
  // A key the config sets (to a token, or null for none) wins over the model's piece.
  auto named = [&](const char* key, int model_id) {
    if (auto it = config.find(key); it != config.end()) return special(token_text(*it), key);
    return special(model_id >= 0 ? std::optional<std::string>(sp_->IdToPiece(model_id)) : std::nullopt, key);
  };
  specials_.bos = named("bos_token", sp_->bos_id());
  specials_.eos = named("eos_token", sp_->eos_id());
  named("unk_token", sp_->unk_id());
  named("pad_token", sp_->pad_id());
  if (auto it = config.find("additional_special_tokens"); it != config.end() && it->is_array())
    for (size_t i = 0; i < it->size(); ++i)
      special(token_text((*it)[i]), "additional_special_tokens[" + std::to_string(i) + "]");
}

std::vector<TokenId> SpmTokenizer::encode(std::string_view text, bool add_special_tokens) const {
  if (auto bad = first_invalid_utf8(text)) {
    char hex[8];
    std::snprintf(hex, sizeof hex, "0x%02X", static_cast<unsigned char>(text[*bad]));
    throw TokenizerError("encode: invalid UTF-8 at byte offset " + std::to_string(*bad) + " (byte " + hex + ")");
  }
  std::vector<TokenId> ids;
  if (add_special_tokens && specials_.add_bos && specials_.bos) ids.push_back(*specials_.bos);
  std::vector<int> piece_ids;
  for (const Segment& s : split_added(text, specials_)) {
    if (s.added) {
      ids.push_back(*s.added);
      continue;
    }
    const auto status = sp_->Encode(s.text, &piece_ids);
    if (!status.ok()) throw TokenizerError("encode: SentencePiece failed: " + status.ToString());
    ids.insert(ids.end(), piece_ids.begin(), piece_ids.end());
  }
  if (add_special_tokens && specials_.add_eos && specials_.eos) ids.push_back(*specials_.eos);
  return ids;
}

// The byte of a byte-fallback piece "<0xAB>"; nullopt for any other piece.
static std::optional<unsigned char> fallback_byte(std::string_view piece) {
  if (piece.size() != 6 || !piece.starts_with("<0x") || piece[5] != '>') return std::nullopt;
  unsigned value = 0;
  for (char c : piece.substr(3, 2)) {
    const int digit = c >= '0' && c <= '9' ? c - '0' : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
    if (digit < 0) return std::nullopt;
    value = value * 16 + static_cast<unsigned>(digit);
  }
  return static_cast<unsigned char>(value);
}

// The decoder transformers builds for a Llama-style SentencePiece model
// (convert_slow_tokenizer's LlamaConverter; its fast tokenizers decode so):
// U+2581 becomes a space, each run of byte-fallback pieces becomes its bytes
// (U+FFFD per byte when the run is not valid UTF-8), the pieces are joined,
// and one leading space (the dummy prefix) is dropped. Special and added
// tokens are kept as their text, or left out when skipping special tokens.
// Unlike transformers 4's slow LlamaTokenizer, no space is invented before a
// special token, so decode(encode(text)) gives the text back.
std::string SpmTokenizer::decode(const std::vector<TokenId>& ids, bool skip_special_tokens) const {
  std::string text, bytes;
  auto flush_bytes = [&] {
    if (bytes.empty()) return;
    if (first_invalid_utf8(bytes)) {
      for (size_t i = 0; i < bytes.size(); ++i) text += "\xEF\xBF\xBD";  // U+FFFD
    } else {
      text += bytes;
    }
    bytes.clear();
  };
  for (size_t i = 0; i < ids.size(); ++i) {
    const TokenId id = ids[i];
    if (id < 0 || static_cast<size_t>(id) >= vocab_size_)
      throw TokenizerError("decode: token id " + std::to_string(id) + " (item " + std::to_string(i + 1) +
                           ") is outside the vocabulary of " + std::to_string(vocab_size_) + " tokens");
    if (skip_special_tokens && specials_.special_ids.count(id)) continue;
    const auto added = specials_.added_texts.find(id);
    const bool is_added = added != specials_.added_texts.end();
    const std::string piece = is_added ? added->second : sp_->IdToPiece(id);
    if (!is_added && sp_->IsByte(id))
      if (const auto byte = fallback_byte(piece)) {
        bytes += static_cast<char>(*byte);
        continue;
      }
    flush_bytes();
    for (size_t at = 0; at < piece.size();) {
      if (piece.compare(at, kMetaSpace.size(), kMetaSpace) == 0) {
        text += ' ';
        at += kMetaSpace.size();
      } else {
        text += piece[at++];
      }
    }
  }
  flush_bytes();
  if (add_prefix_space_ && text.starts_with(' ')) text.erase(0, 1);
  return clean_up_tokenization_spaces_ ? clean_up_spaces(std::move(text)) : text;
}

std::optional<std::string> SpmTokenizer::id_to_token(TokenId id) const {
  if (auto a = specials_.added_texts.find(id); a != specials_.added_texts.end()) return a->second;
  if (id < 0 || static_cast<size_t>(id) >= sp_size_) return std::nullopt;
  return sp_->IdToPiece(id);
}

std::optional<TokenId> SpmTokenizer::token_to_id(std::string_view token) const {
  const std::string t(token);
  if (auto a = specials_.added_ids.find(t); a != specials_.added_ids.end()) return a->second;
  const int id = sp_->PieceToId(t);
  if (id >= 0 && sp_->IdToPiece(id) == t) return id;
  return std::nullopt;
}

}  // namespace allm::spm
