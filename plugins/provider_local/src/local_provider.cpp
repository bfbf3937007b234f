#include "local_provider.hpp"

#include "allm/grammar.hpp"
#include "allm/tool_calls.hpp"

#include <algorithm>
#include <iostream>

#include "allm/error.hpp"
#include "allm/generate.hpp"
#include "allm/generation_request.hpp"
#include "allm/log.hpp"
#include "allm/vision.hpp"
#include "kv_blob.hpp"
#include "reply.hpp"

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

// The cache's shape as its pool stores it: the model built the pool, so this
// is the model's own layout, whatever its config file spells.
const KVShape& kv_shape_of(const KVCache& cache) { return cache.pool()->shape(); }

// The ids prefix matching compares: an image's tokens carry its content hash
// instead of the placeholder id (negative, so never a real token), so a cached
// prefix is reused only up to an image that differs.
std::vector<TokenId> cache_keys(const std::vector<TokenId>& ids, const std::vector<ImageRun>& images) {
  std::vector<TokenId> keys = ids;
  for (const ImageRun& r : images) {
    uint64_t h = 1469598103934665603ull;  // FNV-1a over the size and pixels
    auto mix = [&h](uint64_t v) { h = (h ^ v) * 1099511628211ull; };
    mix(static_cast<uint64_t>(r.image->width));
    mix(static_cast<uint64_t>(r.image->height));
    mix(static_cast<uint64_t>(r.image->channels));
    for (uint8_t b : r.image->pixels) mix(b);
    for (int64_t t = 0; t < r.count; ++t)
      keys[static_cast<size_t>(r.index + t)] = -1 - static_cast<TokenId>((h + static_cast<uint64_t>(t)) & 0x3fffffff);
  }
  return keys;
}

}  // namespace

LocalProvider::LocalProvider(const json& options) : Provider(media_limits_of(options)) {
  if (!options.is_object() && !options.is_null())
    throw InvalidArgumentError("local provider options: expected an object, got " + options.dump());
  const json opts = options.is_object() ? options : json::object();
  config_ = opts.value("config", json::object());
  if (!config_.is_object()) throw InvalidArgumentError("local provider options.config: expected an object");
  render_limits_ = RenderLimits::from_config(config_);
  if (config_.contains("generation")) config_params_ = GenerationParams::from_json(config_["generation"], "config.generation");
  context_option_ = option_int(opts, "context_length", "options");
  if (!context_option_) context_option_ = option_int(config_, "context_length", "config");
  model_options_.threads = static_cast<int>(option_int(opts, "threads", "options"));
  if (!model_options_.threads) model_options_.threads = static_cast<int>(option_int(config_, "threads", "config"));
  for (const json* where : {static_cast<const json*>(&opts), static_cast<const json*>(&config_)}) {
    auto it = where->find("backend");
    if (it == where->end() || it->is_null()) continue;
    const std::string key = where == &opts ? "options.backend" : "config.backend";
    if (!it->is_string()) throw InvalidArgumentError(key + ": expected a backend name (see allm info), got " + it->dump());
    model_options_.backend_name = it->get<std::string>();
    if (!model_options_.backend_name.empty()) break;
  }
  for (const json* where : {static_cast<const json*>(&opts), static_cast<const json*>(&config_)}) {
    auto it = where->find("gpu_layers");
    if (it == where->end() || it->is_null()) continue;
    const std::string key = where == &opts ? "options.gpu_layers" : "config.gpu_layers";
    if (!it->is_number_integer() || it->get<int64_t>() < -1)
      throw InvalidArgumentError(key + ": expected a number of layers (0 or more; -1: every layer), got " + it->dump());
    model_options_.gpu_layers = it->get<int64_t>();
    break;
  }
  for (const json* where : {static_cast<const json*>(&opts), static_cast<const json*>(&config_)}) {
    auto it = where->find("kv_budget");
    if (it == where->end() || it->is_null() || kv_budget_) continue;
    const std::string key = where == &opts ? "options.kv_budget" : "config.kv_budget";
    if (it->is_string()) kv_budget_ = parse_byte_size(it->get<std::string>(), key);
    else if (it->is_number_integer() && it->get<int64_t>() >= 0) kv_budget_ = it->get<uint64_t>();
    else throw InvalidArgumentError(key + ": expected a byte count or a size such as \"2GiB\", got " + it->dump());
  }
  if (auto it = opts.find("prompt_cache"); it != opts.end() && !it->is_null()) {
    if (it->is_string()) prompt_cache_bytes_ = parse_byte_size(it->get<std::string>(), "options.prompt_cache");
    else if (it->is_number_integer() && it->get<int64_t>() >= 0) prompt_cache_bytes_ = it->get<uint64_t>();
    else throw InvalidArgumentError("options.prompt_cache: expected a byte count or a size such as \"2GiB\", got " + it->dump());
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
  if (auto it = opts.find("resolved"); it != opts.end() && !it->is_null()) {
    if (default_spec_.empty()) throw InvalidArgumentError("local provider options.resolved: given without options.model");
    model_ = load_engine_model(default_spec_, resolved_model_from_json(*it, "local provider options.resolved"),
                               model_options_);
  } else if (!default_spec_.empty()) {
    model_ = model_for(default_spec_);
  }
  if (model_) keep_spare_blocks(*model_);
}

// What model_info says of an embedding model (null: not one).
static json embedding_info(const EngineModel& m) {
  if (!m.embedding) return nullptr;
  json pooling = json::array();
  for (Pooling p : m.embedding->pooling) pooling.push_back(pooling_name(p));
  return {{"dimension", m.embedding->dimension(m.model->info().hidden_size)},
          {"pooling", pooling},
          {"normalize", m.embedding->normalize},
          {"max_seq_length", m.embedding->max_seq_length}};
}

std::shared_ptr<EngineModel> LocalProvider::model_for(const std::string& spec) {
  if (spec.empty()) {
    if (model_) return model_;
    throw InvalidArgumentError("request.model: no model given and the provider was created without one");
  }
  if (model_ && (spec == model_->id || spec == model_->resolved_path)) return model_;
  const uint64_t loads = ModelCache::instance().loads();
  auto m = load_engine_model(spec, model_options_);
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
  c.vision = model_->model->vision() != nullptr;
  c.model = model_->id;
  c.max_context = context_length_of(*model_);
  c.tool_use = !raw_ && template_uses_tools(*model_);
  c.cache_state = true;  // the KV blob stores any model's cache (kv_blob.hpp)
  const ModelInfo& info = model_->model->info();
  c.model_info = {{"path", model_->resolved_path},
                  {"model_type", info.model_type},
                  {"vocab_size", info.vocab_size},
                  {"layers", info.layers},
                  {"model_context_length", info.context_length},
                  {"chat_template", raw_ ? "none" : model_->template_source.origin},
                  {"chat_template_fallback", model_->template_source.fallback},
                  {"tool_call_format", tools::format_name(dialect_of(*model_, raw_).format)},
                  {"reasoning_tags", reasoning_tags(dialect_of(*model_, raw_))},
                  {"fingerprint", model_->fingerprint},
                  {"prompt_inspection", true},
                  {"vision", c.vision},
                  {"embedding", embedding_info(*model_)},
                  {"batching",
                   {{"merged_forward_calls", model_->batcher->merged_calls()},
                    {"merged_sequences", model_->batcher->merged_sequences()}}},
                  {"last_prompt",
                   {{"prompt_tokens", last_stats_.prompt_tokens},
                    {"reused_tokens", last_stats_.reused_tokens},
                    {"processed_tokens", last_stats_.processed_tokens},
                    {"reused_from_shared", last_stats_.from_shared}}},
                  {"kv",
                   {{"pool_bytes_in_use", cache_ ? cache_->pool()->bytes_in_use() : 0},
                    {"shared_pool", cache_ && model_->prompt_cache->shares(cache_->pool())}}},
                  {"prompt_cache",
                   {{"limit_bytes", prompt_cache_bytes_},
                    {"entries", model_->prompt_cache->entries()},
                    {"bytes", model_->prompt_cache->bytes()}}}};
  return c;
}

RenderedPrompt LocalProvider::render(const GenerateRequest& request) {
  PreparedRequest p = prepare(request);
  auto m = model_for(p.model.empty() ? default_spec_ : p.model);
  MessageImages images(p.messages.size());
  for (const auto& img : p.images)
    if (img.message_index < images.size()) images[img.message_index].push_back({&img.media.image, img.offset});
  RenderedPrompt r = render_prompt(*m, p.messages, p.tools, raw_, render_limits_, images);
  r.images.clear();  // they point into `p`
  return r;
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
  auto m = switch_model(request.model);
  const ResolvedParams params = resolve_generation_params(
      request.params, params_from_model_defaults(m->checkpoint.generation), config_params_);
  const int64_t ctx = context_length_of(*m);
  const size_t reserve = static_cast<size_t>(std::min<int64_t>(params.max_tokens, std::max<int64_t>(1, ctx / 2)));
  const FittedPrompt prompt = fit_prompt(*m, request, raw_, static_cast<size_t>(ctx), reserve, render_limits_);
  if (show_prompt_)
    std::cerr << "--- prompt (" << prompt.ids.size() << " tokens) ---\n" << prompt.text << "\n--- end of prompt ---\n";

  GenerationRequest gen =
      generation_request(params, prompt.ids, eos_ids_of(m->checkpoint.generation, m->tokenizer.get()), ctx);
  bool from_shared = false;
  const std::vector<TokenId> keys = cache_keys(prompt.ids, prompt.images);
  size_t reuse = reuse_prefix(*m, keys, ctx, gen.max_tokens, from_shared);
  for (const ImageRun& r : prompt.images)  // an image is fed whole (its tokens see each other)
    if (r.index < static_cast<int64_t>(reuse) && static_cast<int64_t>(reuse) < r.index + r.count) {
      reuse = static_cast<size_t>(r.index);
      cache_->truncate(static_cast<int64_t>(reuse));
      cached_ids_.resize(reuse);
    }
  gen.cached_prefix.assign(prompt.ids.begin(), prompt.ids.begin() + static_cast<long>(reuse));
  gen.prompt.assign(prompt.ids.begin() + static_cast<long>(reuse), prompt.ids.end());
  // The soft tokens of the images not in the reused prefix.
  std::vector<std::vector<float>> image_rows;
  image_rows.reserve(prompt.images.size());
  for (const ImageRun& r : prompt.images) {
    if (r.index < static_cast<int64_t>(reuse)) continue;
    VisionEncoder& vision = *m->model->vision();
    image_rows.push_back(vision.encode(*r.image));
    const auto [grid_h, grid_w] = vision.soft_token_grid(*r.image);
    gen.soft_tokens.push_back({r.index - static_cast<int64_t>(reuse), r.count, image_rows.back().data(),
                               vision.bidirectional(), grid_h, grid_w});
  }

  gen.top_logprobs = request.logprobs.value_or(-1);
  std::unique_ptr<grammar::Matcher> matcher = grammar_matcher(*m, request);
  if (matcher)  // constrained decoding: the grammar masks each step's logits
    gen.constrain_logits = [&](float* logits, int64_t vocab) {
      grammar::mask_logits(*matcher, logits, vocab, gen.eos_ids);
    };
  DeltaStream stream(*m->tokenizer, on_delta, cancel, matcher.get(), kept_special_tokens(*m, request, raw_));
  stream.attach(gen);

  // Generations on this model from other providers (allm serve --parallel)
  // run at the same time; their forward steps are batched together. Active
  // only around the token loop: the batch's leader waits for every active
  // generation's step, so the work before it (prompt fitting, image encoding,
  // grammar compiling) must not hold the others back.
  BatchedModel batched(*m->model, *m->batcher);
  GenerationResult out;
  try {
    ForwardBatcher::Active in_batch(*m->batcher);
    out = allm::generate(batched, *cache_, gen);
  } catch (...) {
    cache_.reset();  // state unknown after a failed forward call
    cached_ids_.clear();
    throw;
  }
  stream.finish(out);
  remember_cached(keys, out.tokens);
  keep_spare_blocks(*m);  // the next request's prompt takes ready blocks
  last_stats_ = {static_cast<int64_t>(prompt.ids.size()), static_cast<int64_t>(reuse), out.prompt_tokens, from_shared};

  GenerateResponse r = assemble_response(*m, gen, std::move(out), prompt.ids.size());
  r.dropped_messages = static_cast<int64_t>(prompt.dropped_messages);
  r.timings.load_ms = pending_load_ms_;
  pending_load_ms_ = 0;
  return r;
}

std::shared_ptr<EngineModel> LocalProvider::switch_model(const std::string& spec) {
  auto m = model_for(spec.empty() ? default_spec_ : spec);
  if (m != model_) {  // another model: its KV cache starts empty
    model_ = m;
    cache_.reset();
    cached_ids_.clear();
  }
  return m;
}

size_t LocalProvider::reuse_prefix(const EngineModel& m, const std::vector<TokenId>& ids, int64_t ctx,
                                   int64_t max_tokens, bool& from_shared) {
  size_t reuse = 0;
  from_shared = false;
  // With the shared prompt cache every sequence lives in the model's one pool,
  // so a snapshot of any slot's sequence can be forked.
  const std::shared_ptr<KVPool> shared =
      prompt_cache_bytes_ ? m.prompt_cache->pool(*m.model, kv_budget_, kv_type_) : nullptr;
  if (cache_) {
    // At least one token must be fed to get logits.
    const size_t limit = std::min({ids.size() - 1, cached_ids_.size(), static_cast<size_t>(cache_->size())});
    while (reuse < limit && ids[reuse] == cached_ids_[reuse]) ++reuse;
  }
  if (shared) {
    SharedPromptCache::Match match = m.prompt_cache->longest_prefix(ids, ids.size() - 1);
    if (match.tokens > reuse) {
      cache_ = std::move(match.cache);
      reuse = match.tokens;
      from_shared = true;
      cached_ids_.assign(ids.begin(), ids.begin() + static_cast<long>(reuse));
    }
    if (!cache_ || cache_->pool() != shared) {
      cache_ = std::make_unique<KVCache>(shared);
      reuse = 0;
    }
    // The pool's budget must hold this sequence: older snapshots make way.
    const int64_t block = shared->block_positions();
    const int64_t need = (std::min<int64_t>(ctx, static_cast<int64_t>(ids.size()) + max_tokens) + block - 1) / block -
                         static_cast<int64_t>(reuse) / block;
    m.prompt_cache->make_room(need);
  }
  if (cache_) {
    cache_->truncate(static_cast<int64_t>(reuse));
  } else if (kv_budget_ || kv_type_ != KVType::f32) {
    // Positions are taken from the budget as generation needs them.
    cache_ = std::make_unique<KVCache>(m.model->make_pool(kv_budget_, kv_type_));
  } else {
    cache_ = m.model->make_cache(std::min<int64_t>(ctx, static_cast<int64_t>(ids.size()) + max_tokens));
  }
  cached_ids_.resize(reuse);
  return reuse;
}

std::unique_ptr<grammar::Matcher> LocalProvider::grammar_matcher(const EngineModel& m, const PreparedRequest& request) {
  std::optional<OutputGrammar> g = request.grammar;
  // A tool_choice that forces a call is the grammar of a call in this model's
  // own format (as allm serve forces one, docs/tools.md).
  if (const auto forced = forced_tool(request.tool_choice)) {
    if (g)
      throw InvalidArgumentError("request.tool_choice: forces a tool call and the reply is also constrained by a " +
                                 g->kind + " grammar; use one");
    const tools::Format format = dialect_of(m, raw_).format;
    if (format == tools::Format::none)
      throw InvalidArgumentError("request.tool_choice: forces a tool call, but this model's chat template has no known "
                                 "tool-call format");
    nlohmann::json names = nlohmann::json::array();
    if (!forced->empty()) names.push_back(*forced);
    g = OutputGrammar{"tool_calls", nlohmann::json{{"format", tools::format_name(format)},
                                                   {"tools", request.tools},
                                                   {"names", names},
                                                   {"parallel", true}}
                                        .dump()};
  }
  if (!g) return nullptr;
  auto compiled = grammar::compile(g->kind, g->source);
  if (trie_owner_ != m.tokenizer.get()) {  // the vocabulary as a byte trie, built once per tokenizer
    trie_ = std::make_shared<const grammar::TokenTrie>(grammar::token_bytes(*m.tokenizer));
    trie_owner_ = m.tokenizer.get();
  }
  return std::make_unique<grammar::Matcher>(compiled, trie_);
}

void LocalProvider::keep_spare_blocks(const EngineModel& m) const {
  if (!prompt_cache_bytes_ || m.embedding) return;
  const std::shared_ptr<KVPool> pool = m.prompt_cache->pool(*m.model, kv_budget_, kv_type_);
  if (!pool) return;
  const int64_t per_block = pool->block_positions();
  m.prompt_cache->keep_spare((GenerationRequest{}.prefill_chunk + per_block - 1) / per_block);
}

void LocalProvider::remember_cached(const std::vector<TokenId>& prompt, const std::vector<int32_t>& generated) {
  // What the cache now holds: the prompt and every generated token fed back.
  cached_ids_.assign(prompt.begin(), prompt.end());
  cached_ids_.insert(cached_ids_.end(), generated.begin(), generated.end());
  cached_ids_.resize(std::min(cached_ids_.size(), static_cast<size_t>(cache_->size())));
  if (prompt_cache_bytes_ && model_) model_->prompt_cache->remember(cached_ids_, *cache_, prompt_cache_bytes_);
}

std::string LocalProvider::model_fingerprint() const { return model_ ? model_->fingerprint : std::string(); }

std::optional<CacheState> LocalProvider::save_cache_state() const {
  if (!model_ || !cache_ || cache_->size() == 0) return std::nullopt;
  return CacheState{model_->fingerprint, save_kv_blob(*cache_, cached_ids_, kv_shape_of(*cache_))};
}

bool LocalProvider::restore_cache_state(const CacheState& state) {
  if (!model_ || state.model_fingerprint != model_->fingerprint) return false;
  try {
    RestoredKv kv = load_kv_blob(state.data, *model_->model, kv_shape_of(*model_->model->make_cache(1)));
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
