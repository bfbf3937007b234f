#include "local_provider.hpp"

#include "allm/grammar.hpp"

#include <algorithm>
#include <iostream>
#include <random>

#include "allm/error.hpp"
#include "allm/generate.hpp"
#include "allm/log.hpp"
#include "kv_blob.hpp"

namespace allm::local {

namespace {

using nlohmann::json;

MediaLimits media_limits_of(const json& options) {
  auto it = options.find("config");
  return it != options.end() && it->is_object() ? MediaLimits::from_config(*it) : MediaLimits{};
}

int64_t option_int(const json& j, const char* key, const std::string& where) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return 0;
  if (!it->is_number_integer() || it->get<int64_t>() < 0)
    throw InvalidArgumentError(where + "." + key + ": expected a non-negative integer, got " + it->dump());
  return it->get<int64_t>();
}

std::optional<KvShape> kv_shape_of(const EngineModel& m, const KVCache& cache) {
  const json& c = m.checkpoint.config;
  KvShape s;
  s.layers = c.value("num_hidden_layers", int64_t{0});
  const int64_t heads = c.value("num_attention_heads", int64_t{0});
  s.kv_heads = c.contains("num_key_value_heads") && c["num_key_value_heads"].is_number_integer()
                   ? c["num_key_value_heads"].get<int64_t>()
                   : heads;
  s.head_dim = c.contains("head_dim") && c["head_dim"].is_number_integer()
                   ? c["head_dim"].get<int64_t>()
                   : (heads > 0 ? c.value("hidden_size", int64_t{0}) / heads : 0);
  // Only when the config's numbers describe this cache exactly.
  const uint64_t expect = static_cast<uint64_t>(s.layers) * 2 * static_cast<uint64_t>(s.kv_heads) *
                          static_cast<uint64_t>(s.head_dim) * static_cast<uint64_t>(cache.capacity()) * 4;
  if (s.layers <= 0 || s.kv_heads <= 0 || s.head_dim <= 0 || cache.layers() != s.layers || cache.bytes() != expect)
    return std::nullopt;
  return s;
}

// A drawn seed stays below 2^53: exact as a JSON number in every client
// (JavaScript, jq) and as `--seed N`, so the reported seed reproduces the sample.
uint64_t draw_seed(int64_t seed) {
  if (seed >= 0) return static_cast<uint64_t>(seed);
  std::random_device rd;
  return ((static_cast<uint64_t>(rd()) << 32) ^ rd()) & ((uint64_t{1} << 53) - 1);
}

}  // namespace

LocalProvider::LocalProvider(const json& options) : Provider(media_limits_of(options)) {
  if (!options.is_object() && !options.is_null())
    throw InvalidArgumentError("local provider options: expected an object, got " + options.dump());
  const json opts = options.is_object() ? options : json::object();
  config_ = opts.value("config", json::object());
  if (!config_.is_object()) throw InvalidArgumentError("local provider options.config: expected an object");
  if (config_.contains("generation")) config_params_ = GenerationParams::from_json(config_["generation"], "config.generation");
  context_option_ = option_int(opts, "context_length", "options");
  if (!context_option_) context_option_ = option_int(config_, "context_length", "config");
  threads_ = static_cast<int>(option_int(opts, "threads", "options"));
  if (!threads_) threads_ = static_cast<int>(option_int(config_, "threads", "config"));
  for (const json* where : {static_cast<const json*>(&opts), static_cast<const json*>(&config_)}) {
    auto it = where->find("kv_budget");
    if (it == where->end() || it->is_null() || kv_budget_) continue;
    const std::string key = where == &opts ? "options.kv_budget" : "config.kv_budget";
    if (it->is_string()) kv_budget_ = parse_byte_size(it->get<std::string>(), key);
    else if (it->is_number_unsigned()) kv_budget_ = it->get<uint64_t>();
    else throw InvalidArgumentError(key + ": expected a byte count or a size such as \"2GiB\", got " + it->dump());
  }
  for (const json* where : {static_cast<const json*>(&opts), static_cast<const json*>(&config_)}) {
    auto it = where->find("kv_type");
    if (it == where->end() || it->is_null()) continue;
    const std::string key = where == &opts ? "options.kv_type" : "config.kv_type";
    if (!it->is_string()) throw InvalidArgumentError(key + ": expected \"f32\", \"f16\" or \"q8_0\", got " + it->dump());
    kv_type_ = parse_kv_type(it->get<std::string>(), key);
    break;
  }
  if (config_.contains("max_cached_models"))
    ModelCache::instance().set_capacity(static_cast<size_t>(option_int(config_, "max_cached_models", "config")));
  const std::string tmpl = opts.value("template", std::string("auto"));
  if (tmpl != "auto" && tmpl != "none")
    throw InvalidArgumentError("local provider options.template: expected \"auto\" or \"none\", got \"" + tmpl + "\"");
  raw_ = tmpl == "none";
  show_prompt_ = opts.value("show_prompt", false);
  default_spec_ = opts.value("model", std::string());
  if (!default_spec_.empty()) model_ = model_for(default_spec_);
}

std::shared_ptr<EngineModel> LocalProvider::model_for(const std::string& spec) {
  if (spec.empty()) {
    if (model_) return model_;
    throw InvalidArgumentError("request.model: no model given and the provider was created without one");
  }
  if (model_ && (spec == model_->id || spec == model_->resolved_path)) return model_;
  const uint64_t loads = ModelCache::instance().loads();
  auto m = load_engine_model(spec, threads_);
  pending_load_ms_ = ModelCache::instance().loads() != loads ? m->load_ms : 0;
  return m;
}

int64_t LocalProvider::context_length_of(const EngineModel& m) const {
  int64_t ctx = m.model->info().context_length;
  if (context_option_ > 0) ctx = ctx > 0 ? std::min(ctx, context_option_) : context_option_;
  return ctx;
}

int64_t LocalProvider::context_length() const { return model_ ? context_length_of(*model_) : context_option_; }

Capabilities LocalProvider::capabilities() const {
  Capabilities c;
  c.streaming = c.system_prompt = c.async = true;
  c.vision = false;
  if (!model_) return c;
  c.model = model_->id;
  c.max_context = context_length_of(*model_);
  c.tool_use = !raw_ && template_uses_tools(*model_);
  auto probe = model_->model->make_cache(1);
  c.cache_state = kv_shape_of(*model_, *probe).has_value();
  const ModelInfo& info = model_->model->info();
  c.model_info = {{"path", model_->resolved_path},
                  {"model_type", info.model_type},
                  {"vocab_size", info.vocab_size},
                  {"layers", info.layers},
                  {"model_context_length", info.context_length},
                  {"chat_template", raw_ ? "none" : model_->template_source.origin},
                  {"chat_template_fallback", model_->template_source.fallback},
                  {"fingerprint", model_->fingerprint},
                  {"prompt_inspection", true},
                  {"batching",
                   {{"merged_forward_calls", model_->batcher->merged_calls()},
                    {"merged_sequences", model_->batcher->merged_sequences()}}},
                  {"last_prompt",
                   {{"prompt_tokens", last_stats_.prompt_tokens},
                    {"reused_tokens", last_stats_.reused_tokens},
                    {"processed_tokens", last_stats_.processed_tokens}}}};
  return c;
}

RenderedPrompt LocalProvider::render(const GenerateRequest& request) {
  PreparedRequest p = prepare(request);
  auto m = model_for(p.model.empty() ? default_spec_ : p.model);
  return render_prompt(*m, p.messages, p.tools, raw_);
}

Provider::PromptPreview LocalProvider::preview_prompt(const GenerateRequest& request) {
  RenderedPrompt r = render(request);
  return {std::move(r.text), std::move(r.ids)};
}

std::vector<TokenId> LocalProvider::tokenize(const std::string& text, bool add_special_tokens) {
  return model_for(default_spec_)->tokenizer->encode(text, add_special_tokens);
}

std::string LocalProvider::detokenize(const std::vector<TokenId>& ids, bool skip_special_tokens) {
  auto m = model_for(default_spec_);
  const size_t vocab = m->tokenizer->vocab_size();
  for (size_t i = 0; i < ids.size(); ++i)
    if (ids[i] < 0 || static_cast<size_t>(ids[i]) >= vocab)
      throw InvalidArgumentError("token id " + std::to_string(ids[i]) + " (item " + std::to_string(i + 1) +
                                 ") is outside the vocabulary of " + std::to_string(vocab) + " tokens");
  return m->tokenizer->decode(ids, skip_special_tokens);
}

GenerateResponse LocalProvider::do_generate(const PreparedRequest& request, const StreamCallback& on_delta,
                                            const CancellationToken& cancel) {
  auto m = model_for(request.model.empty() ? default_spec_ : request.model);
  if (m != model_) {  // another model: its KV cache starts empty
    model_ = m;
    cache_.reset();
    cached_ids_.clear();
  }
  const ResolvedParams params = resolve_generation_params(
      request.params, params_from_model_defaults(m->checkpoint.generation), config_params_);
  const int64_t ctx = context_length_of(*m);
  const size_t reserve = static_cast<size_t>(std::min<int64_t>(params.max_tokens, std::max<int64_t>(1, ctx / 2)));

  std::vector<Message> messages = request.messages;
  const size_t messages_given = messages.size();
  std::string prompt_text;
  const size_t keep_prefix = m->tokenizer->bos_id() && m->tokenizer->adds_bos() ? 1 : 0;
  const std::vector<TokenId> ids = fit_to_context(
      messages, request.truncation, static_cast<size_t>(ctx), reserve,
      [&](const std::vector<Message>& msgs) {
        RenderedPrompt r = render_prompt(*m, msgs, request.tools, raw_);
        prompt_text = std::move(r.text);
        return r.ids;
      },
      keep_prefix);
  if (ids.empty()) throw InvalidArgumentError("request: the prompt is empty (no tokens to start from)");
  if (show_prompt_)
    std::cerr << "--- prompt (" << ids.size() << " tokens) ---\n" << prompt_text << "\n--- end of prompt ---\n";

  // Generations on this model from other providers (allm serve --parallel)
  // run at the same time; their forward steps are batched together.
  ForwardBatcher::Active in_batch(*m->batcher);
  BatchedModel batched(*m->model, *m->batcher);
  // Reuse the longest cached prefix; at least one token must be fed to get logits.
  size_t reuse = 0;
  if (cache_) {
    const size_t limit = std::min({ids.size() - 1, cached_ids_.size(), static_cast<size_t>(cache_->size())});
    while (reuse < limit && ids[reuse] == cached_ids_[reuse]) ++reuse;
    cache_->truncate(static_cast<int64_t>(reuse));
  } else {
    if (kv_budget_ || kv_type_ != KVType::f32)  // positions are taken from the budget as generation needs them
      cache_ = std::make_unique<KVCache>(m->model->make_pool(kv_budget_, kv_type_));
    else
      cache_ = m->model->make_cache(std::min<int64_t>(ctx, static_cast<int64_t>(ids.size()) + params.max_tokens));
  }
  cached_ids_.resize(reuse);

  GenerationRequest gen;
  gen.prompt.assign(ids.begin() + static_cast<long>(reuse), ids.end());
  gen.cached_prefix.assign(ids.begin(), ids.begin() + static_cast<long>(reuse));
  gen.sampling.temperature = params.temperature;
  gen.sampling.top_k = params.top_k;
  gen.sampling.top_p = params.top_p;
  gen.sampling.min_p = params.min_p;
  gen.sampling.repetition_penalty = params.repetition_penalty;
  gen.sampling.presence_penalty = params.presence_penalty;
  gen.sampling.frequency_penalty = params.frequency_penalty;
  gen.sampling.seed = draw_seed(params.seed);
  gen.sampling.validate();
  gen.max_tokens = std::min<int64_t>(params.max_tokens, ctx - static_cast<int64_t>(ids.size()));
  gen.eos_ids = m->checkpoint.generation.eos_token_ids;
  if (gen.eos_ids.empty() && m->tokenizer->eos_id()) gen.eos_ids.push_back(*m->tokenizer->eos_id());
  gen.ignore_eos = params.ignore_eos;
  gen.stop = params.stop;

  // Constrained decoding: the grammar masks each step's logits and follows
  // every sampled token.
  std::unique_ptr<grammar::Matcher> matcher;
  if (request.grammar) {
    auto compiled = grammar::compile(request.grammar->kind, request.grammar->source);
    if (trie_owner_ != m->tokenizer.get()) {
      trie_ = std::make_shared<const grammar::TokenTrie>(grammar::token_bytes(*m->tokenizer));
      trie_owner_ = m->tokenizer.get();
    }
    matcher = std::make_unique<grammar::Matcher>(compiled, trie_);
    gen.constrain_logits = [&](float* logits, int64_t vocab) { grammar::mask_logits(*matcher, logits, vocab, gen.eos_ids); };
  }

  StreamDecoder decoder(*m->tokenizer, true);
  StreamDelta delta;
  size_t streamed = 0;
  gen.token_text = [&](int32_t id) { return decoder.push(id); };
  gen.on_token = [&](int32_t id, const std::string& text) {
    if (matcher) matcher->advance_token(id);  // EOS (no bytes) leaves it as is
    delta.token_ids.push_back(id);
    if (!text.empty()) {
      delta.text = text;
      streamed += text.size();
      on_delta(delta);
      delta = {};
    }
    return !cancel.cancelled();
  };

  GenerationResult out;
  try {
    out = allm::generate(batched, *cache_, gen);
  } catch (...) {
    cache_.reset();  // state unknown after a failed forward call
    cached_ids_.clear();
    throw;
  }
  if (out.text.size() > streamed || !delta.token_ids.empty()) {  // held-back tail
    delta.text = out.text.size() > streamed ? out.text.substr(streamed) : std::string();
    on_delta(delta);
  }

  // What the cache now holds: the prompt and every generated token fed back.
  cached_ids_.assign(ids.begin(), ids.end());
  cached_ids_.insert(cached_ids_.end(), out.tokens.begin(), out.tokens.end());
  cached_ids_.resize(std::min(cached_ids_.size(), static_cast<size_t>(cache_->size())));

  GenerateResponse r;
  r.model = m->id;
  r.text = std::move(out.text);
  r.finish_reason = out.finish_reason;
  r.token_ids = out.tokens;
  r.seed = gen.sampling.seed;
  r.dropped_messages = static_cast<int64_t>(messages_given - messages.size());
  const bool ended_on_eos = out.finish_reason == finish_reason::stop && !params.ignore_eos && !r.token_ids.empty() &&
                            std::find(gen.eos_ids.begin(), gen.eos_ids.end(), r.token_ids.back()) != gen.eos_ids.end();
  if (ended_on_eos) {
    r.token_ids.pop_back();
  } else if (out.finish_reason == finish_reason::stop && !gen.stop.empty()) {
    // A stop string ended the reply and `text` leaves it out: so do the ids
    // and the count. Keep the tokens up to the one completing the kept text.
    StreamDecoder recount(*m->tokenizer, true);
    size_t covered = 0, keep = 0;
    while (keep < r.token_ids.size() && covered < r.text.size()) covered += recount.push(r.token_ids[keep++]).size();
    r.token_ids.resize(keep);
  }
  r.usage.prompt_tokens = static_cast<int64_t>(ids.size());
  r.usage.completion_tokens = static_cast<int64_t>(r.token_ids.size());
  r.usage.total_tokens = r.usage.prompt_tokens + r.usage.completion_tokens;
  r.timings.load_ms = pending_load_ms_;
  pending_load_ms_ = 0;
  r.timings.prompt_ms = out.prefill_ms;
  r.timings.decode_ms = out.decode_ms;
  r.timings.prefill_tokens_per_s = out.prefill_ms > 0 ? out.prompt_tokens * 1000.0 / out.prefill_ms : 0;
  r.timings.decode_tokens_per_s = out.decode_ms > 0 && out.decode_steps > 0 ? out.decode_steps * 1000.0 / out.decode_ms : 0;
  last_stats_ = {static_cast<int64_t>(ids.size()), static_cast<int64_t>(reuse), out.prompt_tokens};
  return r;
}

std::string LocalProvider::model_fingerprint() const { return model_ ? model_->fingerprint : std::string(); }

std::optional<CacheState> LocalProvider::save_cache_state() const {
  if (!model_ || !cache_ || cache_->size() == 0) return std::nullopt;
  auto shape = kv_shape_of(*model_, *cache_);
  if (!shape) return std::nullopt;
  return CacheState{model_->fingerprint, save_kv_blob(*cache_, cached_ids_, *shape)};
}

bool LocalProvider::restore_cache_state(const CacheState& state) {
  if (!model_ || state.model_fingerprint != model_->fingerprint) return false;
  auto probe = model_->model->make_cache(1);
  auto shape = kv_shape_of(*model_, *probe);
  if (!shape) return false;
  try {
    RestoredKv kv = load_kv_blob(state.data, *model_->model, *shape);
    cache_ = std::move(kv.cache);
    cached_ids_ = std::move(kv.ids);
  } catch (const Error& e) {
    log().warn("not restoring the KV cache: {}", e.what());
    return false;
  }
  return true;
}

std::shared_ptr<Provider> LocalProviderFactory::create(const json& options) const {
  return std::make_shared<LocalProvider>(options);
}

std::string LocalProviderFactory::description() const {
  return "allm's native engine: safetensors/GGUF checkpoints, chat templates, KV-cache reuse across turns";
}

}  // namespace allm::local
