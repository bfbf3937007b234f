#include "allm/sentence_embedding.hpp"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <iterator>

#include <nlohmann/json.hpp>

#include "allm/error.hpp"
#include "allm/json_depth.hpp"

namespace allm {

namespace fs = std::filesystem;
using nlohmann::json;

const char* pooling_name(Pooling p) noexcept {
  switch (p) {
    case Pooling::cls: return "cls";
    case Pooling::max: return "max";
    case Pooling::mean: return "mean";
    case Pooling::mean_sqrt_len: return "mean_sqrt_len_tokens";
    case Pooling::weighted_mean: return "weightedmean";
    case Pooling::last_token: return "lasttoken";
  }
  return "?";
}

namespace {

json read_json_file(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) throw ModelLoadError(file.string() + ": cannot open for reading");
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (std::string depth = json_depth_error(text); !depth.empty()) throw ModelLoadError(file.string() + ": " + depth);
  json j = json::parse(text, nullptr, false);
  if (j.is_discarded()) throw ModelLoadError(file.string() + ": malformed JSON");
  return j;
}

// sentence-transformers' concatenation order.
constexpr Pooling kOrder[] = {Pooling::cls,           Pooling::max,           Pooling::mean,
                              Pooling::mean_sqrt_len, Pooling::weighted_mean, Pooling::last_token};

Pooling pooling_from_name(const std::string& name, const std::string& where) {
  if (name == "cls" || name == "cls_token") return Pooling::cls;
  if (name == "max" || name == "max_tokens") return Pooling::max;
  if (name == "mean" || name == "mean_tokens") return Pooling::mean;
  if (name == "mean_sqrt_len_tokens" || name == "mean_sqrt_len") return Pooling::mean_sqrt_len;
  if (name == "weightedmean" || name == "weightedmean_tokens") return Pooling::weighted_mean;
  if (name == "lasttoken") return Pooling::last_token;
  throw ModelLoadError(where + ": unknown pooling_mode '" + name +
                       "' (expected cls, max, mean, mean_sqrt_len_tokens, weightedmean or lasttoken)");
}

void read_pooling(const fs::path& file, SentenceEmbeddingConfig& c) {
  const json j = read_json_file(file);
  const std::string where = file.string();
  if (!j.is_object()) throw ModelLoadError(where + ": expected a JSON object");
  std::vector<bool> on(std::size(kOrder), false);
  auto set = [&](Pooling p) { on[static_cast<size_t>(std::find(std::begin(kOrder), std::end(kOrder), p) - kOrder)] = true; };
  // Newer sentence-transformers: "pooling_mode": "lasttoken" (or a list).
  if (auto it = j.find("pooling_mode"); it != j.end() && !it->is_null()) {
    if (it->is_string()) {
      set(pooling_from_name(it->get<std::string>(), where));
    } else if (it->is_array()) {
      for (const auto& m : *it) {
        if (!m.is_string()) throw ModelLoadError(where + ": pooling_mode: expected strings, got " + m.dump());
        set(pooling_from_name(m.get<std::string>(), where));
      }
    } else {
      throw ModelLoadError(where + ": pooling_mode: expected a string, got " + it->dump());
    }
  }
  // Older files: one boolean per mode.
  const std::pair<const char*, Pooling> flags[] = {{"pooling_mode_cls_token", Pooling::cls},
                                                   {"pooling_mode_max_tokens", Pooling::max},
                                                   {"pooling_mode_mean_tokens", Pooling::mean},
                                                   {"pooling_mode_mean_sqrt_len_tokens", Pooling::mean_sqrt_len},
                                                   {"pooling_mode_weightedmean_tokens", Pooling::weighted_mean},
                                                   {"pooling_mode_lasttoken", Pooling::last_token}};
  for (const auto& [key, mode] : flags) {
    auto it = j.find(key);
    if (it == j.end() || it->is_null()) continue;
    if (!it->is_boolean()) throw ModelLoadError(where + ": " + key + ": expected true or false, got " + it->dump());
    if (it->get<bool>()) set(mode);
  }
  for (size_t i = 0; i < std::size(kOrder); ++i)
    if (on[i]) c.pooling.push_back(kOrder[i]);
  if (c.pooling.empty()) throw ModelLoadError(where + ": no pooling mode set (pooling_mode)");
  if (auto it = j.find("include_prompt"); it != j.end() && !it->is_null()) {
    if (!it->is_boolean()) throw ModelLoadError(where + ": include_prompt: expected true or false, got " + it->dump());
    c.include_prompt = it->get<bool>();
  }
}

// Whether sentence_bert_config.json declares a "message" modality (texts go
// through the chat template).
bool read_message_format(const fs::path& dir) {
  const fs::path file = dir / "sentence_bert_config.json";
  if (!fs::is_regular_file(file)) return false;
  const json j = read_json_file(file);
  if (!j.is_object()) return false;
  auto it = j.find("modality_config");
  if (it == j.end() || it->is_null()) return false;
  if (!it->is_object()) throw ModelLoadError(file.string() + ": modality_config: expected an object, got " + it->dump());
  return it->contains("message");
}

// max_seq_length from sentence_bert_config.json, else the tokenizer's model_max_length.
int64_t read_max_seq_length(const fs::path& dir) {
  for (const auto& [name, key] : {std::pair{"sentence_bert_config.json", "max_seq_length"},
                                  std::pair{"tokenizer_config.json", "model_max_length"}}) {
    const fs::path file = dir / name;
    if (!fs::is_regular_file(file)) continue;
    const json j = read_json_file(file);
    if (!j.is_object()) continue;
    auto it = j.find(key);
    if (it == j.end() || it->is_null()) continue;
    // transformers writes a huge sentinel (1e30) for "no limit".
    if (it->is_number() && it->get<double>() > 0 && it->get<double>() < 1e9) return it->get<int64_t>();
    if (!it->is_number()) throw ModelLoadError(file.string() + ": " + key + ": expected a number, got " + it->dump());
  }
  return 0;
}

void read_prompts(const fs::path& dir, SentenceEmbeddingConfig& c) {
  const fs::path file = dir / "config_sentence_transformers.json";
  if (!fs::is_regular_file(file)) return;
  const json j = read_json_file(file);
  if (!j.is_object()) throw ModelLoadError(file.string() + ": expected a JSON object");
  if (auto it = j.find("prompts"); it != j.end() && !it->is_null()) {
    if (!it->is_object()) throw ModelLoadError(file.string() + ": prompts: expected an object");
    for (auto p = it->begin(); p != it->end(); ++p) {
      if (!p->is_string()) throw ModelLoadError(file.string() + ": prompts." + p.key() + ": expected a string");
      c.prompts[p.key()] = p->get<std::string>();
    }
  }
  if (auto it = j.find("default_prompt_name"); it != j.end() && !it->is_null()) {
    if (!it->is_string()) throw ModelLoadError(file.string() + ": default_prompt_name: expected a string");
    c.default_prompt_name = it->get<std::string>();
    if (!c.prompts.contains(c.default_prompt_name))
      throw ModelLoadError(file.string() + ": default_prompt_name '" + c.default_prompt_name + "' is not in prompts");
  }
}

float l2_norm(const std::vector<float>& v) {
  double s = 0;
  for (float x : v) s += static_cast<double>(x) * x;
  return static_cast<float>(std::sqrt(s));
}

void normalize_l2(std::vector<float>& v) {
  const float n = std::max(l2_norm(v), 1e-12f);  // torch.nn.functional.normalize's eps
  for (float& x : v) x /= n;
}

// Pools rows [first, n) of `h` ([n][hidden]); `rows_all` false: `h` holds only the last row.
std::vector<float> pool(const SentenceEmbeddingConfig& c, const float* h, int64_t n, int64_t first, int64_t hidden,
                        bool rows_all) {
  std::vector<float> out;
  out.reserve(static_cast<size_t>(c.dimension(hidden)));
  auto row = [&](int64_t t) { return h + (rows_all ? t : 0) * hidden; };
  const int64_t count = n - first;
  for (Pooling p : c.pooling) {
    std::vector<double> acc(static_cast<size_t>(hidden), 0.0);
    switch (p) {
      case Pooling::cls:
        for (int64_t d = 0; d < hidden; ++d) acc[d] = row(first)[d];
        break;
      case Pooling::last_token:
        for (int64_t d = 0; d < hidden; ++d) acc[d] = row(n - 1)[d];
        break;
      case Pooling::max:
        for (int64_t d = 0; d < hidden; ++d) acc[d] = -INFINITY;
        for (int64_t t = first; t < n; ++t)
          for (int64_t d = 0; d < hidden; ++d) acc[d] = std::max<double>(acc[d], row(t)[d]);
        break;
      case Pooling::mean:
      case Pooling::mean_sqrt_len:
      case Pooling::weighted_mean: {
        double total = 0;
        for (int64_t t = first; t < n; ++t) {
          // weightedmean: position weights 1, 2, ... (sentence-transformers counts from the first token).
          const double w = p == Pooling::weighted_mean ? static_cast<double>(t + 1) : 1.0;
          total += w;
          for (int64_t d = 0; d < hidden; ++d) acc[d] += w * row(t)[d];
        }
        const double div = p == Pooling::mean_sqrt_len ? std::sqrt(static_cast<double>(count)) : total;
        for (auto& a : acc) a /= div;
        break;
      }
    }
    for (double a : acc) out.push_back(static_cast<float>(a));
  }
  if (c.normalize) normalize_l2(out);
  return out;
}

}  // namespace

std::optional<SentenceEmbeddingConfig> read_sentence_embedding_config(const fs::path& model_dir) {
  const fs::path modules_file = model_dir / "modules.json";
  if (!fs::is_regular_file(modules_file)) return std::nullopt;
  const json modules = read_json_file(modules_file);
  const std::string where = modules_file.string();
  if (!modules.is_array()) throw ModelLoadError(where + ": expected an array of modules");
  SentenceEmbeddingConfig c;
  bool transformer = false, pooled = false;
  for (size_t i = 0; i < modules.size(); ++i) {
    const json& m = modules[i];
    const std::string at = where + ": [" + std::to_string(i) + "]";
    if (!m.is_object() || !m.contains("type") || !m["type"].is_string())
      throw ModelLoadError(at + ": expected an object with a string \"type\"");
    const std::string type = m["type"].get<std::string>();
    const std::string path = m.contains("path") && m["path"].is_string() ? m["path"].get<std::string>() : "";
    // The class name is the last dotted component (module paths moved between releases).
    const std::string cls = type.substr(type.rfind('.') == std::string::npos ? 0 : type.rfind('.') + 1);
    if (path.find("..") != std::string::npos || (!path.empty() && path.front() == '/'))
      throw ModelLoadError(at + ": path '" + path + "' leaves the model directory");
    if (cls == "Transformer") {
      if (transformer || pooled) throw ModelLoadError(at + ": Transformer must come first, once");
      transformer = true;
    } else if (cls == "Pooling") {
      if (!transformer || pooled) throw ModelLoadError(at + ": Pooling must follow the Transformer, once");
      read_pooling(model_dir / path / "config.json", c);
      pooled = true;
    } else if (cls == "Normalize") {
      if (!pooled) throw ModelLoadError(at + ": Normalize before Pooling is not supported");
      c.normalize = true;
    } else {
      throw ModelLoadError(at + ": module type '" + type +
                           "' is not supported (allm runs Transformer, Pooling and Normalize modules)");
    }
  }
  if (!transformer || !pooled) throw ModelLoadError(where + ": needs a Transformer and a Pooling module");
  c.max_seq_length = read_max_seq_length(model_dir);
  c.message_format = read_message_format(model_dir);
  read_prompts(model_dir, c);
  return c;
}

std::vector<TokenId> embedding_token_ids(const Tokenizer& tokenizer, const std::string& text, int64_t max_tokens,
                                         bool add_special_tokens) {
  std::vector<TokenId> ids = tokenizer.encode(text, add_special_tokens);
  if (max_tokens <= 0 || static_cast<int64_t>(ids.size()) <= max_tokens) return ids;
  // Find where the plain text's ids sit among the special tokens, keep those.
  const std::vector<TokenId> plain = tokenizer.encode(text, false);
  size_t front = 0;
  if (ids.size() >= plain.size()) {
    for (size_t f = 0; f + plain.size() <= ids.size(); ++f)
      if (std::equal(plain.begin(), plain.end(), ids.begin() + static_cast<long>(f))) {
        front = f;
        break;
      }
  }
  const size_t specials = ids.size() - plain.size();
  if (static_cast<int64_t>(specials) >= max_tokens) {
    ids.resize(static_cast<size_t>(max_tokens));
    return ids;
  }
  std::vector<TokenId> out(ids.begin(), ids.begin() + static_cast<long>(front));
  out.insert(out.end(), plain.begin(), plain.begin() + (max_tokens - static_cast<int64_t>(specials)));
  out.insert(out.end(), ids.begin() + static_cast<long>(front + plain.size()), ids.end());
  return out;
}

std::vector<std::vector<float>> embed_token_sequences(Model& model, const SentenceEmbeddingConfig& config,
                                                      const std::vector<EmbeddingInput>& inputs) {
  const int64_t hidden = model.info().hidden_size;
  const int64_t context = model.info().context_length;
  for (size_t i = 0; i < inputs.size(); ++i) {
    const int64_t n = static_cast<int64_t>(inputs[i].ids.size());
    if (n == 0) throw InvalidArgumentError("input " + std::to_string(i) + " has no tokens");
    if (context > 0 && n > context)
      throw ContextWindowError("input " + std::to_string(i) + " has " + std::to_string(n) +
                               " tokens, more than the model's context of " + std::to_string(context));
    if (!config.include_prompt && inputs[i].prompt_tokens >= n)
      throw InvalidArgumentError("input " + std::to_string(i) + " has no tokens after its prompt");
  }
  // Only the last row is needed when last-token pooling is all there is.
  const bool rows_all = !(config.pooling.size() == 1 && config.pooling[0] == Pooling::last_token);
  constexpr int64_t kTokensPerCall = 2048;  // bounds the forward call's scratch
  std::vector<std::vector<float>> out(inputs.size());
  std::vector<float> h;
  for (size_t begin = 0; begin < inputs.size();) {
    size_t end = begin;
    int64_t tokens = 0, rows = 0;
    while (end < inputs.size() && (end == begin || tokens + static_cast<int64_t>(inputs[end].ids.size()) <= kTokensPerCall)) {
      const int64_t n = static_cast<int64_t>(inputs[end].ids.size());
      tokens += n;
      rows += rows_all ? n : 1;
      ++end;
    }
    std::vector<std::unique_ptr<KVCache>> caches;
    std::vector<BatchEntry> batch;
    for (size_t i = begin; i < end; ++i) {
      caches.push_back(model.make_cache(static_cast<int64_t>(inputs[i].ids.size())));
      batch.push_back(BatchEntry{caches.back().get(), inputs[i].ids, rows_all ? LogitsMode::all : LogitsMode::last, -1});
    }
    h.resize(static_cast<size_t>(rows * hidden));
    model.forward_hidden(batch, h.data());
    int64_t at = 0;
    for (size_t i = begin; i < end; ++i) {
      const int64_t n = static_cast<int64_t>(inputs[i].ids.size());
      const int64_t first = config.include_prompt ? 0 : inputs[i].prompt_tokens;
      out[i] = pool(config, h.data() + at * hidden, n, first, hidden, rows_all);
      at += rows_all ? n : 1;
    }
    begin = end;
  }
  return out;
}

void truncate_embedding(std::vector<float>& v, int64_t dimensions, bool normalize) {
  if (dimensions <= 0 || dimensions > static_cast<int64_t>(v.size()))
    throw InvalidArgumentError("dimensions must be between 1 and the model's " + std::to_string(v.size()) + ", got " +
                               std::to_string(dimensions));
  v.resize(static_cast<size_t>(dimensions));
  if (normalize) normalize_l2(v);
}

}  // namespace allm
