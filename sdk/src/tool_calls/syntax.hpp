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

// The longest function name (or argument key) a format's reader takes.
inline constexpr size_t kMaxName = 256;

struct ParsedCall {
  std::string name;
  std::string arguments;  // JSON object text
};

// What a region still being written shows of its calls, for streaming them:
// each call (in order) whose name is read, with the part of its arguments
// text that is certain. Certain means: if the region is read as done, that
// call's arguments begin with exactly this text — so it can be sent and never
// taken back. `complete`: the call is whole (arguments included).
struct CallPreview {
  std::string name;
  std::string arguments;
  bool complete = false;
};
using Preview = std::vector<CallPreview>;

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
  // `preview` (may be null): filled with what the region shows of its calls
  // when it is incomplete (CallPreview).
  RegionResult (*parse)(std::string_view region, bool at_end, const ToolSet& tools, Preview* preview);
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
// argument keys, the first preferred); false when the object is not such a
// call. The arguments are the compact JSON text of the value (json_echo); a
// name repeated in an object keeps its first value.
bool call_from_object(std::string_view object_text, const std::vector<std::string>& keys, ParsedCall& out);
// The same on a call object at s[pos] that is not complete yet: its name and
// the certain part of its arguments, when the name is read at the top level
// and the arguments come under keys[0] (other shapes show once complete).
CallPreview preview_call_object(std::string_view s, size_t pos, const std::vector<std::string>& keys);
// A call `name` whose arguments (written as they are kept: arguments_text)
// start at s[pos] and are not complete yet.
CallPreview preview_raw_arguments(std::string_view s, size_t pos, std::string name);
// Adds whole calls to a preview (when there is one).
void preview_whole(Preview* preview, const std::vector<ParsedCall>& calls);

// Reads one JSON value from text that may still be arriving, and writes the
// compact text nlohmann's dump() gives it — as far as the text makes it
// certain: strings up to their last whole character, numbers and literals
// once they end, members once their key and ':' are read. A name repeated in
// an object keeps its first value (the later member is read, not written),
// so what was written never has to be taken back.
class JsonEcho {
 public:
  enum Result { done, more, bad };
  // `whole`: the text is all there is (a number may end at its end).
  JsonEcho(std::string_view s, size_t pos, bool whole = false) : s_(s), pos_(pos), whole_(whole) {}
  Result read();
  const std::string& out() const { return out_; }
  // done: one past the value. Otherwise: the text from the value's first
  // byte to safe() is a valid start of a JSON value, in whole characters.
  size_t end() const { return pos_; }
  size_t safe() const { return safe_; }
  // A string value: its decoded text (so far, when not done).
  const std::string& decoded() const { return decoded_; }

 private:
  bool value(int depth, bool emit);
  bool string(bool emit, std::string* decoded);
  bool scalar(bool emit);
  bool fail() {
    bad_ = true;
    return false;
  }
  bool need() {
    more_ = true;
    return false;
  }
  std::string_view s_;
  size_t pos_, safe_ = 0;
  bool whole_, more_ = false, bad_ = false;
  std::string out_, decoded_;
};
// The compact text of the whole JSON value `text` (JsonEcho); false when it
// is not one JSON value.
bool echo_json(std::string_view text, std::string& out);
// Bytes at the end of `s` that start a UTF-8 character not yet complete.
size_t incomplete_utf8_tail(std::string_view s);
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

RegionResult parse_hermes(std::string_view region, bool at_end, const ToolSet& tools, Preview* preview);
RegionResult parse_qwen3_coder(std::string_view region, bool at_end, const ToolSet& tools, Preview* preview);
RegionResult parse_llama3(std::string_view region, bool at_end, const ToolSet& tools, Preview* preview);
RegionResult parse_mistral(std::string_view region, bool at_end, const ToolSet& tools, Preview* preview);
RegionResult parse_harmony(std::string_view region, bool at_end, const ToolSet& tools, Preview* preview);
RegionResult parse_deepseek(std::string_view region, bool at_end, const ToolSet& tools, Preview* preview);
RegionResult parse_gemma4(std::string_view region, bool at_end, const ToolSet& tools, Preview* preview);

}  // namespace allm::tools
