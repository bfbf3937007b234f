#pragma once
// Recursive-descent parser following Jinja2's grammar and operator precedence.
#include <memory>
#include <string>

#include "jinja/ast.hpp"

namespace allm::jinja {

// Throws TemplateError naming origin:line:column on any syntax error.
std::shared_ptr<Program> parse_program(std::string source, std::string origin);

}  // namespace allm::jinja
