// LocalProvider::embed: sentence embeddings from a checkpoint in the
// sentence-transformers layout (allm/sentence_embedding.hpp). The forward
// calls go through the model's ForwardBatcher, so embeddings can be asked for
// while generations run on the same weights.
#include <chrono>

#include "allm/chat_template.hpp"
#include "allm/error.hpp"
#include "local_provider.hpp"

namespace allm::local {

EmbedResponse LocalProvider::embed(const EmbedRequest& request) {
  const auto t0 = std::chrono::steady_clock::now();
  if (!request.texts.empty() && !request.token_inputs.empty())
    throw InvalidArgumentError("embed request: give texts or token_inputs, not both");
  // The load time is measured here: pending_load_ms_ belongs to do_generate,
  // which may be running on another thread.
  const uint64_t loads = ModelCache::instance().loads();
  auto m = model_for(request.model.empty() ? default_spec_ : request.model);
  const double load_ms = ModelCache::instance().loads() != loads ? m->load_ms : 0;
  if (!m->embedding)
    throw UnsupportedError(m->id + " is not an embedding model (no modules.json of the sentence-transformers layout)");
  const SentenceEmbeddingConfig& config = *m->embedding;

  int64_t limit = context_length_of(*m);
  if (config.max_seq_length > 0) limit = limit > 0 ? std::min(limit, config.max_seq_length) : config.max_seq_length;

  std::string prompt_name = request.prompt_name.empty() ? config.default_prompt_name : request.prompt_name;
  std::string prompt;
  if (!prompt_name.empty()) {
    auto it = config.prompts.find(prompt_name);
    if (it == config.prompts.end()) {
      std::string known;
      for (const auto& [name, _] : config.prompts) known += (known.empty() ? "" : ", ") + name;
      throw InvalidArgumentError("prompt '" + prompt_name + "' is not one of the model's prompts (" +
                                 (known.empty() ? std::string("none") : known) + ")");
    }
    prompt = it->second;
  }
  if (!prompt.empty() && !request.token_inputs.empty())
    throw InvalidArgumentError("a prompt cannot be applied to inputs given as token ids");

  std::vector<EmbeddingInput> inputs;
  auto check_length = [&](size_t i, size_t n) {
    if (!request.truncate && limit > 0 && static_cast<int64_t>(n) > limit)
      throw ContextWindowError("input " + std::to_string(i) + " has " + std::to_string(n) +
                               " tokens, more than the model's limit of " + std::to_string(limit) +
                               " (truncation is off)");
  };
  // sentence-transformers 6 feeds a model with a "message" modality each text
  // as one user turn through the chat template.
  const bool as_message = config.message_format && m->chat_template && !m->template_source.fallback;
  struct Rendered {
    std::string text;
    bool add_special = true;
  };
  auto render = [&](const std::string& content) {
    if (!as_message) return Rendered{content, true};
    ChatRequest chat;
    chat.messages.push_back({{"role", "user"}, {"content", content}});
    chat.add_generation_prompt = false;
    chat.variables = {{"bos_token", m->bos_token}, {"eos_token", m->eos_token}};
    Rendered r{render_chat(*m->chat_template, chat), true};
    r.add_special = !rendered_starts_with_bos(r.text, m->bos_token);
    return r;
  };
  // The prompt's tokens (for pooling that leaves them out, include_prompt
  // false): what the input shares with the same input made of the prompt alone.
  std::vector<TokenId> prompt_only;
  if (!prompt.empty()) {
    const Rendered r = render(prompt);
    prompt_only = m->tokenizer->encode(r.text, r.add_special);
  }
  for (size_t i = 0; i < request.texts.size(); ++i) {
    EmbeddingInput in;
    const Rendered r = render(prompt + request.texts[i]);
    const std::vector<TokenId> whole = m->tokenizer->encode(r.text, r.add_special);
    check_length(i, whole.size());
    in.ids = embedding_token_ids(*m->tokenizer, r.text, limit, r.add_special);
    while (static_cast<size_t>(in.prompt_tokens) < std::min(prompt_only.size(), in.ids.size()) &&
           prompt_only[static_cast<size_t>(in.prompt_tokens)] == in.ids[static_cast<size_t>(in.prompt_tokens)])
      ++in.prompt_tokens;
    if (in.ids.empty()) throw InvalidArgumentError("input " + std::to_string(i) + " is empty (no tokens)");
    inputs.push_back(std::move(in));
  }
  const size_t vocab = m->tokenizer->vocab_size();
  for (size_t i = 0; i < request.token_inputs.size(); ++i) {
    const auto& ids = request.token_inputs[i];
    for (size_t t = 0; t < ids.size(); ++t)
      if (ids[t] < 0 || static_cast<size_t>(ids[t]) >= std::max(vocab, static_cast<size_t>(m->model->info().vocab_size)))
        throw InvalidArgumentError("input " + std::to_string(i) + ": token id " + std::to_string(ids[t]) + " (item " +
                                   std::to_string(t) + ") is outside the vocabulary");
    check_length(i, ids.size());
    EmbeddingInput in;
    in.ids.assign(ids.begin(), limit > 0 && static_cast<int64_t>(ids.size()) > limit ? ids.begin() + limit : ids.end());
    if (in.ids.empty()) throw InvalidArgumentError("input " + std::to_string(i) + " is empty (no tokens)");
    inputs.push_back(std::move(in));
  }
  if (inputs.empty()) throw InvalidArgumentError("embed request: no input");

  BatchedModel batched(*m->model, *m->batcher);
  EmbedResponse r;
  r.embeddings = embed_token_sequences(batched, config, inputs);
  if (request.dimensions)
    for (auto& v : r.embeddings) truncate_embedding(v, *request.dimensions, config.normalize);
  for (const auto& in : inputs) r.prompt_tokens += static_cast<int64_t>(in.ids.size());
  r.model = m->id;
  r.load_ms = load_ms;
  r.total_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  return r;
}

}  // namespace allm::local
