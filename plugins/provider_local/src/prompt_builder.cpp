#include "prompt_builder.hpp"

#include "allm/error.hpp"
#include "allm/provider/generation.hpp"

namespace allm::local {

namespace {

// A message as chat templates take it (what transformers' apply_chat_template gets).
nlohmann::ordered_json template_message(const Message& m) {
  nlohmann::ordered_json j = {{"role", m.role}, {"content", m.content}};
  if (!m.tool_calls.empty()) {
    // Templates take arguments as a mapping (they iterate it or apply
    // tojson); OpenAI clients send them as JSON text.
    nlohmann::ordered_json calls = nlohmann::ordered_json::parse(m.tool_calls.dump());
    for (auto& c : calls) {
      auto& f = c["function"];
      if (f.contains("arguments") && f["arguments"].is_string()) {
        try {
          auto args = nlohmann::ordered_json::parse(f["arguments"].get<std::string>());
          if (args.is_object()) f["arguments"] = std::move(args);
        } catch (const nlohmann::json::exception&) {
          // Not JSON: the template gets the text as it came.
        }
      }
    }
    j["tool_calls"] = std::move(calls);
  }
  if (!m.tool_call_id.empty()) j["tool_call_id"] = m.tool_call_id;
  if (!m.name.empty()) j["name"] = m.name;
  return j;
}

}  // namespace

RenderedPrompt render_prompt(const EngineModel& model, const std::vector<Message>& messages,
                             const nlohmann::json& tools, bool raw, const RenderLimits& limits) {
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
    for (auto& m : messages) req.messages.push_back(template_message(m));
    if (tools.is_array() && !tools.empty()) req.tools = nlohmann::ordered_json::parse(tools.dump());
    req.add_generation_prompt = messages.empty() || messages.back().role != "assistant";
    req.variables = {{"bos_token", model.bos_token}, {"eos_token", model.eos_token}};
    RenderOptions options;
    options.limits = limits;
    out.text = render_chat(*model.chat_template, req, options);
    add_special = !rendered_starts_with_bos(out.text, model.bos_token);
  }
  out.ids = model.tokenizer->encode(out.text, add_special);
  const auto bos = model.tokenizer->bos_id();
  if (bos && !out.ids.empty() && out.ids.front() == *bos) out.keep_prefix = 1;
  return out;
}

FittedPrompt fit_prompt(const EngineModel& model, const PreparedRequest& request, bool raw, size_t context_length,
                        size_t reserve, const RenderLimits& limits) {
  FittedPrompt out;
  std::vector<Message> messages = request.messages;
  const size_t keep_prefix = model.tokenizer->bos_id() && model.tokenizer->adds_bos() ? 1 : 0;
  out.ids = fit_to_context(
      messages, request.truncation, context_length, reserve,
      [&](const std::vector<Message>& msgs) {
        RenderedPrompt r = render_prompt(model, msgs, request.tools, raw, limits);
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

tools::Dialect dialect_of(const EngineModel& model, bool raw) {
  if (raw || model.template_source.fallback) return {};
  return tools::detect_dialect(model.template_source.text);
}

nlohmann::json reasoning_tags(const tools::Dialect& d) {
  if (d.think_open.empty()) return nullptr;
  return {{"open", d.think_open}, {"close", d.think_close}};
}

std::vector<TokenId> kept_special_tokens(const EngineModel& model, const PreparedRequest& request, bool raw) {
  std::vector<TokenId> out;
  const bool calls_wanted = (request.tools.is_array() && !request.tools.empty()) ||
                            (request.grammar && request.grammar->kind == "tool_calls");
  if (!calls_wanted) return out;
  for (const auto& text : tools::preserved_tokens(dialect_of(model, raw)))
    if (auto id = model.tokenizer->token_to_id(text); id && model.tokenizer->is_special(*id)) out.push_back(*id);
  return out;
}

}  // namespace allm::local
