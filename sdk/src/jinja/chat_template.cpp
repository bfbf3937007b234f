// The public ChatTemplate API over the interpreter.
#include "allm/chat_template.hpp"

#include <limits>
#include <type_traits>

#include "allm/error.hpp"
#include "jinja/interpreter.hpp"
#include "jinja/parser.hpp"
#include "jinja/validate.hpp"

namespace allm {

ChatTemplate ChatTemplate::parse(std::string source, std::string origin) {
  auto program = jinja::parse_program(std::move(source), std::move(origin));
  jinja::validate_program(*program);
  return ChatTemplate(std::move(program));
}

const std::string& ChatTemplate::source() const { return program_->source; }
const std::string& ChatTemplate::origin() const { return program_->origin; }

std::string ChatTemplate::render(const nlohmann::ordered_json& context, const RenderOptions& options) const {
  if (!context.is_object() && !context.is_null())
    throw InvalidArgumentError(program_->origin + ": the render context must be a JSON object");
  // The context's values count against the render's memory budget too.
  jinja::MemoryBudget budget(options.limits.max_memory_bytes, options.limits.max_output_bytes);
  jinja::MemoryBudget::Active active(&budget);
  jinja::Value ctx;
  try {
    ctx = context.is_null() ? jinja::Value::dict() : jinja::from_json(context);
  } catch (const std::exception& e) {
    throw TemplateError(program_->origin + ": render context: " + e.what());
  }
  jinja::Interpreter interpreter(program_, options);
  return interpreter.render(ctx);
}

RenderLimits RenderLimits::from_config(const nlohmann::json& config) {
  RenderLimits limits;
  auto section = config.find("template");
  if (section == config.end() || !section->is_object()) return limits;
  // Each key must be a positive integer that fits its field.
  auto read = [&](const char* key, auto& field) {
    auto it = section->find(key);
    if (it == section->end() || it->is_null()) return;
    using Field = std::remove_reference_t<decltype(field)>;
    if (!it->is_number_integer() || it->get<int64_t>() <= 0 ||
        it->get<uint64_t>() > static_cast<uint64_t>(std::numeric_limits<Field>::max()))
      throw ConfigError(std::string("template.") + key + ": expected a positive integer, got " + it->dump());
    field = static_cast<Field>(it->get<uint64_t>());
  };
  read("max_output_bytes", limits.max_output_bytes);
  read("max_steps", limits.max_steps);
  read("max_depth", limits.max_depth);
  read("max_memory_bytes", limits.max_memory_bytes);
  return limits;
}

std::string render_chat(const ChatTemplate& tpl, const ChatRequest& request, const RenderOptions& options) {
  nlohmann::ordered_json context = nlohmann::ordered_json::object();
  context["messages"] = request.messages;
  context["tools"] = request.tools;
  context["documents"] = request.documents;
  context["add_generation_prompt"] = request.add_generation_prompt;
  if (!request.variables.is_null() && !request.variables.is_object())
    throw InvalidArgumentError("chat template variables must be a JSON object");
  if (request.variables.is_object())
    for (auto it = request.variables.begin(); it != request.variables.end(); ++it)
      if (!context.contains(it.key())) context[it.key()] = it.value();
  return tpl.render(context, options);
}

bool rendered_starts_with_bos(std::string_view rendered, std::string_view bos_token) {
  return !bos_token.empty() && rendered.substr(0, bos_token.size()) == bos_token;
}

}  // namespace allm
