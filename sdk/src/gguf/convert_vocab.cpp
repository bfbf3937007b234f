// tokenizer.json -> GGUF vocabulary, the inverse of vocab.cpp for byte-level
// BPE tokenizers (GPT-2, Llama 3, Qwen style).
#include <cerrno>
#include <cstring>
#include <fstream>

#include "allm/error.hpp"
#include "allm/json_depth.hpp"
#include "gguf/convert_vocab.hpp"

namespace allm::gguf::detail {
namespace {

nlohmann::json read_json(const std::filesystem::path& p) {
  std::ifstream f(p, std::ios::binary);
  if (!f) throw IoError(p.string() + ": cannot open: " + std::strerror(errno));
  std::string text((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  if (std::string depth = json_depth_error(text); !depth.empty()) throw ModelLoadError(p.string() + ": " + depth);
  try {
    return nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    throw ModelLoadError(p.string() + ": " + e.what());
  }
}

// llama.cpp's name for the pre-tokenizer a tokenizer.json describes.
std::string pre_tokenizer_name(const nlohmann::json& pre, const std::string& origin) {
  if (pre.is_object() && pre.value("type", "") == "ByteLevel" && pre.value("use_regex", true)) return "gpt-2";
  std::string regex;
  if (pre.is_object() && pre.value("type", "") == "Sequence") {
    for (auto& p : pre.value("pretokenizers", nlohmann::json::array()))
      if (p.value("type", "") == "Split" && p.contains("pattern") && p["pattern"].contains("Regex"))
        regex = p["pattern"]["Regex"].get<std::string>();
  }
  if (regex.find("\\p{N}{1,3}") != std::string::npos) return "llama-bpe";
  if (regex.find("[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}|") != std::string::npos) return "qwen2";
  throw UnsupportedError(origin + ": the pre-tokenizer is not one llama.cpp knows (GPT-2, Llama 3 and Qwen 2 styles are)");
}

}  // namespace

void write_vocabulary(const Checkpoint& ck, Writer& w) {
  nlohmann::json tj;
  std::string origin = "tokenizer.json";
  if (ck.tokenizer_json_text) {
    if (std::string depth = json_depth_error(*ck.tokenizer_json_text); !depth.empty())
      throw ModelLoadError("tokenizer.json: " + depth);
    tj = nlohmann::json::parse(*ck.tokenizer_json_text);
  } else if (ck.tokenizer_json) {
    origin = ck.tokenizer_json->string();
    tj = read_json(*ck.tokenizer_json);
  } else {
    throw ModelLoadError(ck.source.string() + ": no tokenizer.json to convert");
  }
  const auto& model = tj["model"];
  if (model.value("type", "") != "BPE" || model.value("byte_fallback", false))
    throw UnsupportedError(origin + ": only byte-level BPE vocabularies can be written to GGUF");

  std::vector<std::string> tokens;
  std::vector<int32_t> types;
  auto put = [&](size_t id, const std::string& text, int32_t type) {
    if (id >= tokens.size()) {
      tokens.resize(id + 1);
      types.resize(id + 1, 0);
    }
    tokens[id] = text;
    types[id] = type;
  };
  for (auto& [text, id] : model["vocab"].items()) put(id.get<size_t>(), text, 1);
  for (auto& a : tj.value("added_tokens", nlohmann::json::array()))
    put(a["id"].get<size_t>(), a["content"].get<std::string>(), a.value("special", false) ? 3 : 4);
  // Pad to the embedding rows (checkpoints often round the vocabulary up).
  int64_t vocab = ck.config.value("vocab_size", int64_t(tokens.size()));
  if (int64_t(tokens.size()) < vocab) {
    size_t old = tokens.size();
    tokens.resize(size_t(vocab));
    types.resize(size_t(vocab));
    for (size_t i = old; i < tokens.size(); ++i) {
      tokens[i] = "[PAD" + std::to_string(i) + "]";
      types[i] = 5;
    }
  }
  for (size_t i = 0; i < tokens.size(); ++i)
    if (types[i] == 0) {
      tokens[i] = "[PAD" + std::to_string(i) + "]";
      types[i] = 5;
    }

  nlohmann::json merges = nlohmann::json::array();
  for (auto& m : model.value("merges", nlohmann::json::array()))
    merges.push_back(m.is_array() ? m[0].get<std::string>() + " " + m[1].get<std::string>() : m.get<std::string>());

  w.set("tokenizer.ggml.model", Value::string("gpt2"));
  w.set("tokenizer.ggml.pre", Value::string(pre_tokenizer_name(tj["pre_tokenizer"], origin)));
  w.set("tokenizer.ggml.tokens", Value::array_of(ValueType::STRING, tokens));
  w.set("tokenizer.ggml.token_type", Value::array_of(ValueType::I32, types));
  w.set("tokenizer.ggml.merges", Value::array_of(ValueType::STRING, merges));

  nlohmann::json tcfg = ck.tokenizer_config_json ? read_json(*ck.tokenizer_config_json) : nlohmann::json::object();
  auto id_of = [&](const nlohmann::json& v) -> std::optional<int64_t> {
    std::string text = v.is_string() ? v.get<std::string>() : v.is_object() ? v.value("content", "") : "";
    for (size_t i = 0; i < tokens.size(); ++i)
      if (!text.empty() && tokens[i] == text) return int64_t(i);
    return std::nullopt;
  };
  // A plain int64_t, -1 for none: gcc 12 misreports an optional built by a
  // conditional as uninitialized (at -O1, the TSan tree's level, even this one).
  int64_t bos_id = -1;
  if (ck.generation.bos_token_id) {
    bos_id = *ck.generation.bos_token_id;
  } else if (tcfg.contains("bos_token")) {
    if (auto found = id_of(tcfg["bos_token"])) bos_id = *found;
  }
  std::optional<int64_t> eos;
  if (!ck.generation.eos_token_ids.empty()) eos = ck.generation.eos_token_ids[0];
  else if (tcfg.contains("eos_token")) eos = id_of(tcfg["eos_token"]);
  std::optional<int64_t> pad = tcfg.contains("pad_token") ? id_of(tcfg["pad_token"]) : std::nullopt;
  if (bos_id >= 0) w.set("tokenizer.ggml.bos_token_id", Value::u32(uint32_t(bos_id)));
  if (eos) w.set("tokenizer.ggml.eos_token_id", Value::u32(uint32_t(*eos)));
  // generation_config.json may list several end tokens ([2, 0] for "<|im_end|>"
  // and "<|endoftext|>"); GGUF has one key each for EOS, end-of-turn and
  // end-of-message, which llama.cpp and the reader all treat as stop tokens.
  const auto& ends = ck.generation.eos_token_ids;
  if (ends.size() > 1) w.set("tokenizer.ggml.eot_token_id", Value::u32(uint32_t(ends[1])));
  if (ends.size() > 2) w.set("tokenizer.ggml.eom_token_id", Value::u32(uint32_t(ends[2])));
  if (ends.size() > 3)
    throw UnsupportedError(ck.source.string() + ": " + std::to_string(ends.size()) +
                           " end-of-sequence token ids; GGUF holds three (eos, eot, eom)");
  if (pad) w.set("tokenizer.ggml.padding_token_id", Value::u32(uint32_t(*pad)));
  bool add_bos = tcfg.value("add_bos_token", false) && bos_id >= 0;
  w.set("tokenizer.ggml.add_bos_token", Value::boolean(add_bos));
  if (ck.chat_template) w.set("tokenizer.chat_template", Value::string(*ck.chat_template));
}

}  // namespace allm::gguf::detail
