#include "engine_model.hpp"

#include <chrono>
#include <fstream>

#include <nlohmann/json.hpp>

#include "allm/engine.hpp"
#include "allm/error.hpp"
#include "allm/generate.hpp"
#include "allm/json_depth.hpp"
#include "allm/log.hpp"
#include "allm/model_loader.hpp"
#include "allm/registry.hpp"
#include "allm/tokenizer_loader.hpp"

namespace allm::local {

namespace {

using nlohmann::json;

// tokenizer_config.json spells a special token as a string or {"content": ...}.
std::string token_text(const json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_object() && v.contains("content") && v["content"].is_string()) return v["content"].get<std::string>();
  return "";
}

void read_special_tokens(EngineModel& m) {
  const Checkpoint& ck = m.checkpoint;
  if (ck.tokenizer_config_json) {
    std::ifstream in(*ck.tokenizer_config_json, std::ios::binary);
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (std::string depth = json_depth_error(text); !depth.empty())
      throw ModelLoadError(ck.tokenizer_config_json->string() + ": " + depth);
    json cfg = json::parse(text, nullptr, false);
    if (cfg.is_object()) {
      if (cfg.contains("bos_token")) m.bos_token = token_text(cfg["bos_token"]);
      if (cfg.contains("eos_token")) m.eos_token = token_text(cfg["eos_token"]);
    }
  }
  auto text_of = [&](std::optional<TokenId> id) {
    auto t = id ? m.tokenizer->id_to_token(*id) : std::nullopt;
    return t ? *t : std::string();
  };
  if (m.bos_token.empty() && ck.generation.bos_token_id) m.bos_token = text_of(ck.generation.bos_token_id);
  if (m.bos_token.empty()) m.bos_token = text_of(m.tokenizer->bos_id());
  if (m.eos_token.empty() && !ck.generation.eos_token_ids.empty())
    m.eos_token = text_of(ck.generation.eos_token_ids.front());
  if (m.eos_token.empty()) m.eos_token = text_of(m.tokenizer->eos_id());
}

ChatTemplateSource find_template(const Checkpoint& ck) {
  if (std::filesystem::is_directory(ck.source)) return find_chat_template(ck.source);
  return chat_template_from_text(ck.chat_template.value_or(""), ck.source.string() + ":tokenizer.chat_template");
}

// FNV-1a over what identifies the weights: path, config and byte count.
std::string fingerprint_of(const Checkpoint& ck, const std::string& resolved) {
  uint64_t h = 1469598103934665603ull;
  auto mix = [&](const std::string& s) {
    for (unsigned char c : s) h = (h ^ c) * 1099511628211ull;
  };
  mix(resolved);
  mix(ck.config.dump());
  mix(std::to_string(ck.weights ? ck.weights->total_bytes() : 0));
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
  return ck.model_type + "-" + buf;
}

}  // namespace

std::shared_ptr<EngineModel> load_engine_model(const std::string& spec, const ModelOptions& options,
                                               ModelCache& cache) {
  if (spec.empty())
    throw InvalidArgumentError("no model given: name a model directory, .gguf file or Hugging Face repo id");
  return load_engine_model(spec, resolve_model(spec), options, cache);
}

std::shared_ptr<EngineModel> load_engine_model(const std::string& spec, const ResolvedModel& resolved,
                                               const ModelOptions& options, ModelCache& cache) {
  const std::string resolved_path = std::filesystem::absolute(resolved.path).lexically_normal().string();
  const std::string key = model_cache_key(resolved_path, json{{"engine", "local"},
                                                              {"threads", options.threads},
                                                              {"backend", options.backend_name},
                                                              {"gpu_layers", options.gpu_layers}});
  return cache.get_or_load<EngineModel>(key, [&]() -> std::shared_ptr<EngineModel> {
    try {
      const auto t0 = std::chrono::steady_clock::now();
      auto m = std::make_shared<EngineModel>();
      m->id = spec;
      m->resolved_path = resolved_path;
      LoadedModel loaded = load_model(resolved, options);
      m->checkpoint = std::move(loaded.checkpoint);
      m->model = std::move(loaded.model);
      // A prompt's prefill chunk (or that many batched steps) in one forward
      // call then needs no scratch growth: the first long prompt costs what
      // later ones do (allm run and allm serve both load through here).
      if (ForwardScratch* scratch = forward_scratch(*m->model))
        scratch->reserve_scratch(GenerationRequest{}.prefill_chunk);
      m->batcher = std::make_unique<ForwardBatcher>(*m->model);
      m->tokenizer = load_checkpoint_tokenizer(m->checkpoint);
      read_special_tokens(*m);
      m->template_source = find_template(m->checkpoint);
      if (m->template_source.fallback)
        log().warn("{}: the model has no chat template; using the plain 'role: content' fallback format", spec);
      m->chat_template = ChatTemplate::parse(m->template_source.text, m->template_source.origin);
      if (std::filesystem::is_directory(m->checkpoint.source))
        m->embedding = read_sentence_embedding_config(m->checkpoint.source);
      m->fingerprint = fingerprint_of(m->checkpoint, resolved_path);
      m->load_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
      log().debug("loaded {} ({}) in {:.0f} ms", spec, resolved_path, m->load_ms);
      return m;
    } catch (const std::bad_alloc&) {
      // A file claiming more than memory holds (or a model larger than the
      // memory check estimated): the documented out-of-memory error.
      throw OutOfMemoryError(resolved_path + ": out of memory while loading the model");
    }
  });
}

}  // namespace allm::local
