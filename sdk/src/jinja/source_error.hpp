#pragma once
// Errors that point into the template: "ORIGIN:LINE:COLUMN: message".
#include <string>

#include "allm/error.hpp"

namespace allm::jinja {

[[noreturn]] inline void fail_at(const std::string& origin, int line, int column, const std::string& message) {
  throw TemplateError(origin + ":" + std::to_string(line) + ":" + std::to_string(column) + ": " + message);
}

}  // namespace allm::jinja
