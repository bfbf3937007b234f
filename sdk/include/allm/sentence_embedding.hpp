#pragma once
// Sentence embeddings for checkpoints in the sentence-transformers layout: a
// transformer whose final hidden states are pooled (1_Pooling/config.json:
// CLS, mean, max, mean-sqrt-len, weighted-mean or last-token, concatenated
// when several are set) and optionally L2-normalised (a Normalize module),
// as listed in modules.json. E.g. Qwen3-Embedding (last token, normalised).
//
// read_sentence_embedding_config reads the layout; embed_token_sequences runs
// the model over token sequences (each alone: no padding, so a batch gives
// the same vectors as one text at a time) and applies pooling and norm.
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "allm/model.hpp"
#include "allm/tokenizer.hpp"

namespace allm {

enum class Pooling { cls, max, mean, mean_sqrt_len, weighted_mean, last_token };
const char* pooling_name(Pooling p) noexcept;

struct SentenceEmbeddingConfig {
  std::vector<Pooling> pooling;     // in sentence-transformers' concatenation order
  bool include_prompt = true;       // false: prompt tokens are left out of the pooling
  bool normalize = false;           // a Normalize module follows the pooling
  int64_t max_seq_length = 0;       // tokens per text (longer texts are cut); 0: the model's context
  // sentence_bert_config.json's modality_config has a "message" modality:
  // sentence-transformers (6.x) then feeds a text as one user turn rendered
  // with the model's chat template (no generation prompt), not as bare text.
  bool message_format = false;
  std::map<std::string, std::string> prompts;  // config_sentence_transformers.json "prompts"
  std::string default_prompt_name;  // applied when a request names none
  int64_t dimension(int64_t hidden_size) const { return hidden_size * static_cast<int64_t>(pooling.size()); }
};

// nullopt when `model_dir` has no modules.json (not a sentence-transformers
// checkpoint). A module the engine cannot run (e.g. Dense), a malformed file
// or an unknown pooling mode throws ModelLoadError naming the file and key.
std::optional<SentenceEmbeddingConfig> read_sentence_embedding_config(const std::filesystem::path& model_dir);

// One text's input: its token ids, of which the first `prompt_tokens` come
// from an instruction prompt (left out of pooling when include_prompt is false).
struct EmbeddingInput {
  std::vector<TokenId> ids;
  int64_t prompt_tokens = 0;
};

// Token ids of `text` as sentence-transformers feeds them: the tokenizer with
// its special tokens (unless add_special_tokens is false: a rendered chat
// template that already holds them), cut to `max_tokens` keeping the special tokens the
// post-processor adds around the text (as HF truncation does).
std::vector<TokenId> embedding_token_ids(const Tokenizer& tokenizer, const std::string& text, int64_t max_tokens,
                                         bool add_special_tokens = true);

// One vector per input (config.dimension(hidden) floats). Every input must be
// non-empty and fit the model's context (InvalidArgumentError /
// ContextWindowError naming the input's index). `model` may be shared: its
// forward_hidden must be safe to call here (a BatchedModel is).
std::vector<std::vector<float>> embed_token_sequences(Model& model, const SentenceEmbeddingConfig& config,
                                                      const std::vector<EmbeddingInput>& inputs);

// Keeps the first `dimensions` values (Matryoshka truncation, as
// sentence-transformers' truncate_dim) and L2-normalises again when the
// model normalises. InvalidArgumentError when dimensions is out of range.
void truncate_embedding(std::vector<float>& v, int64_t dimensions, bool normalize);

}  // namespace allm
