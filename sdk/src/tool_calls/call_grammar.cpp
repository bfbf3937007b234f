// tool_choice "required" / a named function: the grammar of a reply that is
// nothing but calls in the model's own syntax, each with arguments valid under
// its tool's parameters schema (compiled by the JSON Schema compiler).
#include <algorithm>

#include "allm/error.hpp"
#include "allm/grammar.hpp"
#include "syntax.hpp"

namespace allm::tools {

std::shared_ptr<const grammar::Grammar> compile_call_grammar(Format format, const nlohmann::json& tools,
                                                             const std::vector<std::string>& names, bool parallel) {
  const Syntax& syntax = syntax_of(format);
  if (format == Format::none || !syntax.shape.call_before)
    throw InvalidArgumentError(
        "tool_choice: this model's chat template has no known tool-call format, so a call cannot be forced "
        "(formats: " + format_names() + ")");
  if (!tools.is_array() || tools.empty()) throw InvalidArgumentError("tool_choice: the request has no tools");
  grammar::ItemList list;
  list.open = syntax.shape.open;
  list.separator = syntax.shape.separator;
  list.close = syntax.shape.close;
  list.repeat = parallel;
  for (size_t i = 0; i < tools.size(); ++i) {
    const nlohmann::json& t = tools[i];
    const std::string where = "tools[" + std::to_string(i) + "]";
    const nlohmann::json* f = &t;
    if (t.is_object() && t.contains("function")) f = &t["function"];
    if (!f->is_object() || !f->contains("name") || !(*f)["name"].is_string())
      throw InvalidArgumentError(where + ".function.name: missing");
    const std::string name = (*f)["name"].get<std::string>();
    if (!names.empty() && std::find(names.begin(), names.end(), name) == names.end()) continue;
    grammar::SchemaItem item;
    item.before = syntax.shape.call_before(name);
    item.after = syntax.shape.call_after;
    item.where = where + ".function.parameters (tool '" + name + "')";
    auto p = f->find("parameters");
    // No parameters schema: any JSON object.
    item.schema = p != f->end() && !p->is_null() ? nlohmann::ordered_json::parse(p->dump())
                                                 : nlohmann::ordered_json{{"type", "object"}};
    list.choices.push_back(std::move(item));
  }
  for (const auto& n : names) {
    bool found = false;
    for (const auto& c : list.choices) found = found || c.before == syntax.shape.call_before(n);
    if (!found) throw InvalidArgumentError("tool_choice: no tool named '" + n + "' in the request's tools");
  }
  return grammar::compile_item_list(list);
}

std::shared_ptr<const grammar::Grammar> compile_call_grammar_text(std::string_view source) {
  nlohmann::json spec;
  try {
    spec = nlohmann::json::parse(source);
  } catch (const nlohmann::json::exception& e) {
    throw InvalidArgumentError(std::string("tool_calls grammar: malformed JSON: ") + e.what());
  }
  if (!spec.is_object() || !spec.contains("format") || !spec["format"].is_string())
    throw InvalidArgumentError("tool_calls grammar: expected {\"format\", \"tools\", \"names\", \"parallel\"}");
  const auto format = format_from_name(spec["format"].get<std::string>());
  if (!format)
    throw InvalidArgumentError("tool_calls grammar: unknown format '" + spec["format"].get<std::string>() +
                               "' (formats: " + format_names() + ")");
  std::vector<std::string> names;
  if (spec.contains("names")) {
    if (!spec["names"].is_array()) throw InvalidArgumentError("tool_calls grammar: names must be an array");
    for (const auto& n : spec["names"]) {
      if (!n.is_string()) throw InvalidArgumentError("tool_calls grammar: names must be strings");
      names.push_back(n.get<std::string>());
    }
  }
  const bool parallel = spec.value("parallel", false);
  return compile_call_grammar(*format, spec.value("tools", nlohmann::json::array()), names, parallel);
}

}  // namespace allm::tools
