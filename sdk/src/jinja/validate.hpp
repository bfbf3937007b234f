#pragma once
// Checks done once after parsing, like Jinja's compiler: every filter and test
// named in the template must exist (TemplateError with line/column if not).
#include "jinja/ast.hpp"

namespace allm::jinja {

void validate_program(const Program& program);

}  // namespace allm::jinja
