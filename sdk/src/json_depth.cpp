#include "allm/json_depth.hpp"

namespace allm {

std::string json_depth_error(std::string_view text, size_t max_depth) {
  size_t depth = 0;
  size_t line = 1;
  size_t line_start = 0;
  bool in_string = false;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (in_string) {
      if (c == '\\') ++i;  // the escaped character cannot end the string
      else if (c == '"') in_string = false;
      continue;
    }
    switch (c) {
      case '"': in_string = true; break;
      case '\n':
        ++line;
        line_start = i + 1;
        break;
      case '[':
      case '{':
        if (++depth > max_depth)
          return "JSON nested more than " + std::to_string(max_depth) + " levels deep at line " + std::to_string(line) +
                 ", column " + std::to_string(i - line_start + 1);
        break;
      case ']':
      case '}':
        if (depth > 0) --depth;
        break;
      default: break;
    }
  }
  return {};
}

}  // namespace allm
