#pragma once
// Nesting limit for JSON read from files and requests. nlohmann's parser and
// destructor are iterative, but everything that walks a parsed document
// afterwards (dump(), conversions into template values, copies) recurses once
// per level, so a hostile 10^5-deep `[[[[...` would exhaust the native stack.
// Every reader checks the text with json_depth_error before parsing it.
#include <cstddef>
#include <string>
#include <string_view>

namespace allm {

// No real model file, config or request nests anywhere near this deep.
constexpr size_t kMaxJsonDepth = 256;

// Empty when `text` nests arrays/objects at most `max_depth` levels deep;
// otherwise a message naming the position ("JSON nested more than 256 levels
// deep at line 1, column 257"). Brackets inside strings do not count.
std::string json_depth_error(std::string_view text, size_t max_depth = kMaxJsonDepth);

}  // namespace allm
