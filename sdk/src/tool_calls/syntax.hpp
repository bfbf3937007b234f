#pragma once
// One call syntax per format (format_*.cpp): where a call region may begin,
// how a region is read into calls, and how a constrained reply writes a call.
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "allm/tool_calls.hpp"

namespace allm::tools {

using ojson = nlohmann::ordered_json;

struct ParsedCall {
  std::string name;
  std::string arguments;  // JSON object text
};

// The reading of a call region (text starting at one of Syntax::starts).
struct RegionResult {
  enum Status { incomplete, done, invalid } status = incomplete;
  std::vector<ParsedCall> calls;
  size_t consumed = 0;  // bytes of the region the calls took (status done)
};

// The two early answers of every parser: the region cannot be a call, or it
// may still become one once more text comes — unless the reply has ended
// (`at_end`), when an unfinished call cannot be one either.
inline RegionResult invalid_region() {
  RegionResult r;
  r.status = RegionResult::invalid;
  return r;
}
inline RegionResult need_more(bool at_end) { return at_end ? invalid_region() : RegionResult{}; }

// The request's tools, by name, for parsers that need a parameter's type.
struct ToolSet {
  const nlohmann::json* tools = nullptr;
  const nlohmann::json* parameters(std::string_view name) const;  // null: no such tool
};

// How a constrained reply writes calls: open, then calls separated by
// `separator`, then close; each call is call_before(name) ARGS call_after.
struct CallShape {
  std::string open, separator, close;
  std::string (*call_before)(const std::string& name) = nullptr;
  std::string call_after;
};

struct Syntax {
  Format format;
  std::vector<std::string> starts;  // a region begins at any of these, anywhere in content
  bool object_at_start = false;     // also: a reply whose first non-blank byte is '{'
  // `at_end`: no more text will come. Must be prefix-consistent: a region
  // read as done stays done (same calls, same consumed) as more text comes.
  RegionResult (*parse)(std::string_view region, bool at_end, const ToolSet& tools);
  std::vector<std::string> dropped;    // markers removed from content (harmony's message headers)
  std::vector<std::string> preserved;  // special tokens the calls are written with
  CallShape shape;
};

const Syntax& syntax_of(Format f);

// Shared by the parsers (json_scan.cpp).
// End of the JSON value starting at s[pos] (after blanks): one past its last
// byte; std::string::npos when the text ends first; `malformed` set when it
// cannot be a JSON value. Scalars need a following byte (or at_end) to end.
size_t json_value_end(std::string_view s, size_t pos, bool at_end, bool& malformed);
size_t skip_blanks(std::string_view s, size_t pos);
// Arguments as a JSON object text: an object value is kept as written; a
// string holding an object (arguments sent as text) is unwrapped. False if neither.
bool arguments_text(std::string_view value_text, std::string& out);
// Reads {"name": …, "arguments"|"parameters": {…}} (`keys` the accepted
// argument keys); false when the object is not such a call.
bool call_from_object(std::string_view object_text, const std::vector<std::string>& keys, ParsedCall& out);
// JSON text of `v`; false when a string in it is not valid UTF-8 (then it is not a call).
bool dump_json(const ojson& v, std::string& out);
bool starts_with(std::string_view s, std::string_view prefix);
// True when `s` is a proper prefix of `marker` (more text may complete it).
bool is_prefix_of(std::string_view s, std::string_view marker);
// The end of a tagged call whose body ends at `pos`: past `close` (after
// blanks), incomplete while the text so far could still become it, else at
// `pos` (the model left the tag open).
RegionResult close_tag(std::string_view region, size_t pos, bool at_end, std::vector<ParsedCall> calls,
                       std::string_view close);

RegionResult parse_hermes(std::string_view region, bool at_end, const ToolSet& tools);
RegionResult parse_qwen3_coder(std::string_view region, bool at_end, const ToolSet& tools);
RegionResult parse_llama3(std::string_view region, bool at_end, const ToolSet& tools);
RegionResult parse_mistral(std::string_view region, bool at_end, const ToolSet& tools);
RegionResult parse_harmony(std::string_view region, bool at_end, const ToolSet& tools);
RegionResult parse_deepseek(std::string_view region, bool at_end, const ToolSet& tools);
RegionResult parse_gemma4(std::string_view region, bool at_end, const ToolSet& tools);

}  // namespace allm::tools
