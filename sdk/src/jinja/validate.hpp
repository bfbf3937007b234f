#pragma once
// Checks done once after parsing, like Jinja's compiler: a filter or test
// named in the template must exist (TemplateError with line/column if not) —
// except inside an `if` (its conditions and bodies) or an inline
// if-expression, where Jinja 3 defers the check to the moment the filter or
// test is reached (the interpreter then raises "No filter named 'x' found.").
// Bodies with their own frame (for, macro, call, filter and block set) are
// checked again even inside an `if`, as Jinja's compiler does.
#include "jinja/ast.hpp"

namespace allm::jinja {

void validate_program(const Program& program);

}  // namespace allm::jinja
