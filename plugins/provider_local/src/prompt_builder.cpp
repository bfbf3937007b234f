#include "prompt_builder.hpp"

#include "allm/error.hpp"
#include "allm/provider/generation.hpp"

namespace allm::local {

RenderedPrompt render_prompt(const EngineModel& model, const std::vector<Message>& messages,
                             const nlohmann::json& tools, bool raw) {
  RenderedPrompt out;
  bool add_special = true;
  if (raw) {
    for (auto& m : messages) {
      if (m.content.empty()) continue;
      if (!out.text.empty()) out.text += "\n\n";
      out.text += m.content;
    }
  } else {
    ChatRequest req;
    for (auto& m : messages) req.messages.push_back({{"role", m.role}, {"content", m.content}});
    if (tools.is_array() && !tools.empty()) req.tools = nlohmann::ordered_json::parse(tools.dump());
    req.add_generation_prompt = messages.empty() || messages.back().role != "assistant";
    req.variables = {{"bos_token", model.bos_token}, {"eos_token", model.eos_token}};
    out.text = render_chat(*model.chat_template, req);
    add_special = !rendered_starts_with_bos(out.text, model.bos_token);
  }
  out.ids = model.tokenizer->encode(out.text, add_special);
  const auto bos = model.tokenizer->bos_id();
  if (bos && !out.ids.empty() && out.ids.front() == *bos) out.keep_prefix = 1;
  return out;
}

FittedPrompt fit_prompt(const EngineModel& model, const PreparedRequest& request, bool raw, size_t context_length,
                        size_t reserve) {
  FittedPrompt out;
  std::vector<Message> messages = request.messages;
  const size_t keep_prefix = model.tokenizer->bos_id() && model.tokenizer->adds_bos() ? 1 : 0;
  out.ids = fit_to_context(
      messages, request.truncation, context_length, reserve,
      [&](const std::vector<Message>& msgs) {
        RenderedPrompt r = render_prompt(model, msgs, request.tools, raw);
        out.text = std::move(r.text);
        return r.ids;
      },
      keep_prefix);
  if (out.ids.empty()) throw InvalidArgumentError("request: the prompt is empty (no tokens to start from)");
  out.dropped_messages = request.messages.size() - messages.size();
  return out;
}

bool template_uses_tools(const EngineModel& model) {
  return !model.template_source.fallback && model.template_source.text.find("tools") != std::string::npos;
}

}  // namespace allm::local
