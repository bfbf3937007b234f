#pragma once
// Renders a template string with a JSON context (test helper).
#include <string>

#include "allm/chat_template.hpp"
#include "allm/error.hpp"

namespace jinja_test {

inline std::string render(const std::string& tpl, const nlohmann::ordered_json& ctx = nlohmann::ordered_json::object(),
                          const allm::RenderOptions& options = {}) {
  return allm::ChatTemplate::parse(tpl, "test.jinja").render(ctx, options);
}

// The message of the TemplateError a render throws ("" if none is thrown).
inline std::string render_error(const std::string& tpl,
                                const nlohmann::ordered_json& ctx = nlohmann::ordered_json::object(),
                                const allm::RenderOptions& options = {}) {
  try {
    render(tpl, ctx, options);
  } catch (const allm::TemplateError& e) {
    return e.what();
  }
  return "";
}

}  // namespace jinja_test
