#include "prompt_builder.hpp"

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

bool template_uses_tools(const EngineModel& model) {
  return !model.template_source.fallback && model.template_source.text.find("tools") != std::string::npos;
}

}  // namespace allm::local
