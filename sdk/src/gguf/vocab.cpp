// GGUF vocabulary -> an equivalent Hugging Face tokenizer.json document, so
// the tokenizer plugin's load_json can run it. `gpt2` vocabularies become a
// byte-level BPE with the pre-tokenizer regex named by tokenizer.ggml.pre;
// `llama` (SentencePiece) vocabularies become a byte-fallback BPE whose merges
// are ranked by the scores of the merged pieces, as SentencePiece does.
#include <algorithm>
#include <unordered_map>

#include "allm/error.hpp"
#include "allm/gguf.hpp"
#include "allm/log.hpp"

namespace allm::gguf {
namespace {

enum TokenType { kNormal = 1, kUnknown = 2, kControl = 3, kUserDefined = 4, kUnused = 5, kByte = 6 };

// Pre-tokenizer regexes of the BPE vocabularies llama.cpp names in tokenizer.ggml.pre.
std::optional<std::string> pre_regex(const std::string& pre) {
  static const std::string llama3 =
      "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
  static const std::string qwen2 =
      "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
  static const std::map<std::string, std::string> table = {
      {"llama3", llama3}, {"llama-v3", llama3}, {"llama-bpe", llama3}, {"smaug-bpe", llama3},
      {"falcon3", llama3}, {"pixtral", llama3},
      {"qwen2", qwen2}, {"deepseek-r1-qwen", qwen2}, {"megrez", qwen2}, {"hunyuan", qwen2},
  };
  auto it = table.find(pre);
  if (it == table.end()) return std::nullopt;
  return it->second;
}

nlohmann::json template_processor(const File& f, const Array& tokens, bool add_bos, bool add_eos) {
  auto bos = f.get_int("tokenizer.ggml.bos_token_id");
  auto eos = f.get_int("tokenizer.ggml.eos_token_id");
  auto token_at = [&](int64_t id, const char* key) -> std::string {
    if (id < 0 || id >= int64_t(tokens.size()))
      throw ModelLoadError(f.origin() + ": metadata '" + key + "' = " + std::to_string(id) + " is outside the vocabulary");
    return std::string(tokens.string(size_t(id)));
  };
  nlohmann::json single = nlohmann::json::array(), pair = nlohmann::json::array(), special = nlohmann::json::object();
  auto add_special = [&](int64_t id, const char* key, nlohmann::json& seq, int type_id) {
    std::string tok = token_at(id, key);
    seq.push_back({{"SpecialToken", {{"id", tok}, {"type_id", type_id}}}});
    special[tok] = {{"id", tok}, {"ids", {id}}, {"tokens", {tok}}};
  };
  for (int part = 0; part < 2; ++part) {
    auto& seq = part == 0 ? single : pair;
    for (int s = 0; s <= part; ++s) {
      if (add_bos && bos) add_special(*bos, "tokenizer.ggml.bos_token_id", seq, s);
      seq.push_back({{"Sequence", {{"id", s == 0 ? "A" : "B"}, {"type_id", s}}}});
      if (add_eos && eos) add_special(*eos, "tokenizer.ggml.eos_token_id", seq, s);
    }
  }
  return {{"type", "TemplateProcessing"}, {"single", single}, {"pair", pair}, {"special_tokens", special}};
}

nlohmann::json added_tokens(const Array& tokens, const Array* types) {
  nlohmann::json out = nlohmann::json::array();
  if (!types) return out;
  for (size_t i = 0; i < tokens.size() && i < types->size(); ++i) {
    int64_t t = types->integer(i);
    if (t != kControl && t != kUserDefined && t != kUnknown) continue;
    out.push_back({{"id", i}, {"content", tokens.string(i)}, {"single_word", false}, {"lstrip", false}, {"rstrip", false},
                   {"normalized", false}, {"special", t != kUserDefined}});
  }
  return out;
}

// Byte offset of the first invalid UTF-8 sequence (overlong forms and
// surrogates included), or npos.
size_t invalid_utf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    auto c = uint8_t(s[i]);
    if (c < 0x80) {
      ++i;
      continue;
    }
    size_t len;
    uint8_t lo = 0x80, hi = 0xBF;  // allowed range of the second byte
    if (c >= 0xC2 && c <= 0xDF) len = 2;
    else if (c >= 0xE0 && c <= 0xEF) {
      len = 3;
      if (c == 0xE0) lo = 0xA0;
      if (c == 0xED) hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
      len = 4;
      if (c == 0xF0) lo = 0x90;
      if (c == 0xF4) hi = 0x8F;
    } else {
      return i;
    }
    if (i + len > s.size()) return i;
    auto c1 = uint8_t(s[i + 1]);
    if (c1 < lo || c1 > hi) return i;
    for (size_t k = 2; k < len; ++k)
      if ((uint8_t(s[i + k]) & 0xC0) != 0x80) return i;
    i += len;
  }
  return std::string::npos;
}

void check_strings(const File& f, const Array& items, const char* key) {
  if (items.type() != ValueType::STRING)
    throw ModelLoadError(f.origin() + ": metadata '" + key + "' is an array of " + value_type_name(items.type()) +
                         ", expected strings");
  for (size_t i = 0; i < items.size(); ++i) {
    if (auto at = invalid_utf8(items.string(i)); at != std::string::npos)
      throw ModelLoadError(f.origin() + ": metadata '" + key + "'[" + std::to_string(i) + "] has invalid UTF-8 at byte " +
                           std::to_string(at));
  }
}

void check_tokens(const File& f, const Array& tokens, const Array* types, const Array* scores) {
  check_strings(f, tokens, "tokenizer.ggml.tokens");
  if (auto* merges = f.get_array("tokenizer.ggml.merges")) check_strings(f, *merges, "tokenizer.ggml.merges");
  if (types) {
    if (types->size() != tokens.size())
      throw ModelLoadError(f.origin() + ": metadata 'tokenizer.ggml.token_type' has " + std::to_string(types->size()) +
                           " entries for " + std::to_string(tokens.size()) + " tokens");
    if (!types->is_integer() || types->type() == ValueType::U64)
      throw ModelLoadError(f.origin() + ": metadata 'tokenizer.ggml.token_type' is an array of " +
                           value_type_name(types->type()) + ", expected integers");
  }
  if (scores) {
    if (scores->size() != tokens.size())
      throw ModelLoadError(f.origin() + ": metadata 'tokenizer.ggml.scores' has " + std::to_string(scores->size()) +
                           " entries for " + std::to_string(tokens.size()) + " tokens");
    if (!scores->is_number())
      throw ModelLoadError(f.origin() + ": metadata 'tokenizer.ggml.scores' is an array of " +
                           value_type_name(scores->type()) + ", expected numbers");
  }
}

nlohmann::json bpe_model(const Array& tokens, nlohmann::json merges, bool byte_fallback,
                         const std::optional<std::string>& unk) {
  nlohmann::json vocab = nlohmann::json::object();
  for (size_t i = 0; i < tokens.size(); ++i) {
    std::string t(tokens.string(i));
    if (!vocab.contains(t)) vocab[t] = i;  // first id wins, as in llama.cpp
  }
  return {{"type", "BPE"}, {"dropout", nullptr}, {"unk_token", unk ? nlohmann::json(*unk) : nlohmann::json(nullptr)},
          {"continuing_subword_prefix", nullptr}, {"end_of_word_suffix", nullptr}, {"fuse_unk", byte_fallback},
          {"byte_fallback", byte_fallback}, {"ignore_merges", false}, {"vocab", vocab}, {"merges", merges}};
}

std::string gpt2_json(const File& f, const Array& tokens, const Array* types) {
  nlohmann::json merges = nlohmann::json::array();
  if (auto* m = f.get_array("tokenizer.ggml.merges")) {  // strings (check_tokens)
    for (size_t i = 0; i < m->size(); ++i) {
      std::string_view str = m->string(i);
      auto sp = str.find(' ', 1);
      if (sp == std::string::npos)
        throw ModelLoadError(f.origin() + ": metadata 'tokenizer.ggml.merges'[" + std::to_string(i) + "] = '" +
                             std::string(str) + "' has no space");
      merges.push_back({str.substr(0, sp), str.substr(sp + 1)});
    }
  }
  std::string pre = f.get_string("tokenizer.ggml.pre").value_or("default");
  nlohmann::json pre_tok;
  if (auto rx = pre_regex(pre)) {
    pre_tok = {{"type", "Sequence"},
               {"pretokenizers",
                {{{"type", "Split"}, {"pattern", {{"Regex", *rx}}}, {"behavior", "Isolated"}, {"invert", false}},
                 {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", true}, {"use_regex", false}}}}};
  } else {
    if (pre != "gpt-2" && pre != "gpt2" && pre != "default")
      log().warn("{}: pre-tokenizer '{}' is not known to allm; using GPT-2's", f.origin(), pre);
    pre_tok = {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", true}, {"use_regex", true}};
  }
  bool add_bos = f.get_bool("tokenizer.ggml.add_bos_token").value_or(false);
  bool add_eos = f.get_bool("tokenizer.ggml.add_eos_token").value_or(false);
  nlohmann::json doc = {
      {"version", "1.0"}, {"truncation", nullptr}, {"padding", nullptr},
      {"added_tokens", added_tokens(tokens, types)},
      {"normalizer", nullptr},
      {"pre_tokenizer", pre_tok},
      {"post_processor", add_bos || add_eos ? template_processor(f, tokens, add_bos, add_eos) : nlohmann::json(nullptr)},
      {"decoder", {{"type", "ByteLevel"}, {"add_prefix_space", true}, {"trim_offsets", true}, {"use_regex", true}}},
      {"model", bpe_model(tokens, std::move(merges), false, std::nullopt)}};
  return doc.dump();
}

// SentencePiece BPE: merge (a, b) ranks by the score of the piece a+b.
nlohmann::json spm_merges(const Array& tokens, const Array* types, const Array& scores) {
  std::unordered_map<std::string, size_t> id;
  for (size_t i = 0; i < tokens.size(); ++i) {
    int64_t t = types ? types->integer(i) : int64_t{kNormal};
    if (t == kNormal || t == kUserDefined) id.emplace(tokens.string(i), i);
  }
  struct Merge {
    float score;
    size_t left, right;
  };
  std::vector<Merge> all;
  for (auto& [piece, pid] : id) {
    for (size_t cut = 1; cut < piece.size(); ++cut) {
      if ((uint8_t(piece[cut]) & 0xC0) == 0x80) continue;  // inside a UTF-8 character
      auto l = id.find(piece.substr(0, cut)), r = id.find(piece.substr(cut));
      if (l != id.end() && r != id.end()) all.push_back({float(scores.number(pid)), l->second, r->second});
    }
  }
  std::sort(all.begin(), all.end(), [](const Merge& a, const Merge& b) {
    if (a.score != b.score) return a.score > b.score;
    if (a.left != b.left) return a.left < b.left;
    return a.right < b.right;
  });
  nlohmann::json merges = nlohmann::json::array();
  for (auto& m : all) merges.push_back({tokens.string(m.left), tokens.string(m.right)});
  return merges;
}

std::string spm_json(const File& f, const Array& tokens, const Array* types) {
  auto* scores = f.get_array("tokenizer.ggml.scores");
  if (!scores) throw ModelLoadError(f.origin() + ": metadata 'tokenizer.ggml.scores' is missing (needed by a 'llama' vocabulary)");
  std::optional<std::string> unk;
  if (auto u = f.get_int("tokenizer.ggml.unknown_token_id"); u && *u >= 0 && *u < int64_t(tokens.size()))
    unk = std::string(tokens.string(size_t(*u)));
  bool add_space = f.get_bool("tokenizer.ggml.add_space_prefix").value_or(true);
  nlohmann::json normalizers = nlohmann::json::array();
  if (add_space) normalizers.push_back({{"type", "Prepend"}, {"prepend", "\xE2\x96\x81"}});
  normalizers.push_back({{"type", "Replace"}, {"pattern", {{"String", " "}}}, {"content", "\xE2\x96\x81"}});
  nlohmann::json decoders = {
      {{"type", "Replace"}, {"pattern", {{"String", "\xE2\x96\x81"}}}, {"content", " "}},
      {{"type", "ByteFallback"}},
      {{"type", "Fuse"}}};
  if (add_space) decoders.push_back({{"type", "Strip"}, {"content", " "}, {"start", 1}, {"stop", 0}});
  bool add_bos = f.get_bool("tokenizer.ggml.add_bos_token").value_or(true);
  bool add_eos = f.get_bool("tokenizer.ggml.add_eos_token").value_or(false);
  nlohmann::json doc = {
      {"version", "1.0"}, {"truncation", nullptr}, {"padding", nullptr},
      {"added_tokens", added_tokens(tokens, types)},
      {"normalizer", {{"type", "Sequence"}, {"normalizers", normalizers}}},
      {"pre_tokenizer", nullptr},
      {"post_processor", add_bos || add_eos ? template_processor(f, tokens, add_bos, add_eos) : nlohmann::json(nullptr)},
      {"decoder", {{"type", "Sequence"}, {"decoders", decoders}}},
      {"model", bpe_model(tokens, spm_merges(tokens, types, *scores), true, unk)}};
  return doc.dump();
}

}  // namespace

std::string tokenizer_json_from_gguf(const File& f) {
  auto model = f.get_string("tokenizer.ggml.model");
  if (!model) throw ModelLoadError(f.origin() + ": metadata 'tokenizer.ggml.model' is missing (the file has no vocabulary)");
  auto* tokens = f.get_array("tokenizer.ggml.tokens");
  if (!tokens) throw ModelLoadError(f.origin() + ": metadata 'tokenizer.ggml.tokens' is missing");
  auto* types = f.get_array("tokenizer.ggml.token_type");
  check_tokens(f, *tokens, types, f.get_array("tokenizer.ggml.scores"));
  if (*model == "gpt2") return gpt2_json(f, *tokens, types);
  if (*model == "llama") return spm_json(f, *tokens, types);
  throw UnsupportedError(f.origin() + ": metadata 'tokenizer.ggml.model' = '" + *model +
                         "' is not supported (supported: gpt2, llama)");
}

}  // namespace allm::gguf
