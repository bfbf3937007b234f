#pragma once
// The "local" provider: allm's native engine behind allm::Provider.
//
// Options (JSON, all optional):
//   "model":          model to load now (path, .gguf, HF cache id); requests
//                     may name another one in GenerateRequest::model
//   "resolved":       where "model" resolved to (resolved_model_to_json), when
//                     the caller resolved it already: it is not resolved again
//   "config":         the host's merged config (generation defaults,
//                     context_length, threads, max_cached_models, media limits)
//   "context_length": overrides config context_length (CLI --ctx)
//   "threads":        overrides config threads
//   "template":       "auto" (the model's chat template, default) or "none"
//                     (plain completion: message texts joined as the prompt)
//   "show_prompt":    true: write each rendered prompt to stderr
//   "prompt_cache":   bytes (or "2GiB") of finished sequences kept for every
//                     provider on the same model to start from (the longest
//                     common prefix, forked copy-on-write: allm serve's
//                     prompt cache across slots); 0 (default): only this
//                     provider's own last sequence is reused
//
// The KV cache of the last generation is kept with the token ids it holds;
// a follow-up request whose prompt starts with those ids (a chat's next turn)
// prefills only the new tokens.
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "allm/chat_template.hpp"
#include "allm/kv_cache.hpp"
#include "allm/grammar.hpp"
#include "allm/provider.hpp"
#include "allm/provider/generation.hpp"
#include "engine_model.hpp"
#include "prompt_builder.hpp"

namespace allm::local {

// What the last generation did with the prompt.
struct PromptStats {
  int64_t prompt_tokens = 0;    // whole rendered prompt
  int64_t reused_tokens = 0;    // served from the KV cache of the previous turn
  int64_t processed_tokens = 0; // actually prefilled
  bool from_shared = false;     // the reused prefix came from another sequence's snapshot
};

class LocalProvider : public Provider {
 public:
  explicit LocalProvider(const nlohmann::json& options);

  Capabilities capabilities() const override;
  std::string model_fingerprint() const override;
  std::optional<CacheState> save_cache_state() const override;
  bool restore_cache_state(const CacheState& state) override;

  // The prompt a request would be given (template, system prompt, files, tools).
  RenderedPrompt render(const GenerateRequest& request);
  PromptPreview preview_prompt(const GenerateRequest& request) override;
  std::vector<TokenId> tokenize(const std::string& text, bool add_special_tokens) override;
  std::string detokenize(const std::vector<TokenId>& ids, bool skip_special_tokens) override;
  // Embedding checkpoints only (local_embed.cpp).
  EmbedResponse embed(const EmbedRequest& request) override;
  PromptStats last_prompt_stats() const { return last_stats_; }
  // Context window in tokens: min(config/option context_length, the model's).
  int64_t context_length() const;

 protected:
  GenerateResponse do_generate(const PreparedRequest& request, const StreamCallback& on_delta,
                               const CancellationToken& cancel) override;

 private:
  std::shared_ptr<EngineModel> model_for(const std::string& spec);
  // do_generate's steps. The model a request names (empty: the default);
  // another one than the last starts with an empty KV cache.
  std::shared_ptr<EngineModel> switch_model(const std::string& spec);
  // Readies cache_ for `ids`: keeps the longest prefix it already holds (the
  // count returned), or makes a cache for a prompt of that many tokens plus
  // `max_tokens`.
  // With the shared prompt cache (option prompt_cache) the longest prefix of
  // any snapshot on the model is forked when longer (`from_shared` set).
  size_t reuse_prefix(const EngineModel& m, const std::vector<TokenId>& ids, int64_t ctx, int64_t max_tokens,
                      bool& from_shared);
  // The request's output grammar as a matcher over m's vocabulary; null without one.
  std::unique_ptr<grammar::Matcher> grammar_matcher(const EngineModel& m, const PreparedRequest& request);
  // Records which ids the cache holds after a generation.
  void remember_cached(const std::vector<TokenId>& prompt, const std::vector<int32_t>& generated);
  // With the shared prompt cache: a prefill chunk's worth of free KV blocks
  // kept ready in the model's pool for the next request (prompt_cache.hpp).
  void keep_spare_blocks(const EngineModel& m) const;
  int64_t context_length_of(const EngineModel& m) const;

  nlohmann::json config_;
  GenerationParams config_params_;
  int64_t context_option_ = 0;  // 0: none
  // threads, backend_name (options.backend, else config.backend; "": the
  // highest score), gpu_layers (options.gpu_layers, else config.gpu_layers)
  ModelOptions model_options_;
  uint64_t kv_budget_ = 0;  // bytes, 0: no limit
  uint64_t prompt_cache_bytes_ = 0;  // shared snapshots kept; 0: not shared
  KVType kv_type_ = KVType::f32;
  bool raw_ = false;
  RenderLimits render_limits_;  // config template.*
  bool show_prompt_ = false;
  std::string default_spec_;

  std::shared_ptr<EngineModel> model_;
  double pending_load_ms_ = 0;  // reported by the next response
  std::unique_ptr<KVCache> cache_;
  // The vocabulary as a byte trie for constrained decoding, built on first use.
  std::shared_ptr<const grammar::TokenTrie> trie_;
  const void* trie_owner_ = nullptr;
  std::vector<TokenId> cached_ids_;  // the tokens whose keys/values `cache_` holds
  PromptStats last_stats_;
};

class LocalProviderFactory : public ProviderFactory {
 public:
  std::shared_ptr<Provider> create(const nlohmann::json& options) const override;
  std::string description() const override;
};

}  // namespace allm::local
