#pragma once
// Unicode-aware pieces of Python's str methods (case mapping, character
// classes, whitespace splitting) on UTF-8 strings.
#include <cstdint>
#include <string>
#include <vector>

namespace allm::jinja::text {

uint32_t to_upper(uint32_t cp);
uint32_t to_lower(uint32_t cp);
bool is_alpha(uint32_t cp);
bool is_digit(uint32_t cp);
bool is_alnum(uint32_t cp);
bool is_upper(uint32_t cp);
bool is_lower(uint32_t cp);

std::string upper(const std::string& s);
std::string lower(const std::string& s);
std::string capitalize(const std::string& s);  // str.capitalize
std::string python_title(const std::string& s);  // str.title
std::string jinja_title(const std::string& s);   // the `title` filter

// str.strip / lstrip / rstrip; `chars` empty pointer means whitespace.
std::string strip(const std::string& s, const std::string* chars, bool left, bool right);
// str.split / str.rsplit; `sep` null means runs of whitespace.
std::vector<std::string> split(const std::string& s, const std::string* sep, int64_t maxsplit, bool from_right);
// html.unescape for the entities Markup.striptags meets in practice: numeric
// (&#34; &#x27;) and &amp; &lt; &gt; &quot; &apos; &nbsp; (the first four also
// without ';'). Other named entities are left as written.
std::string html_unescape(const std::string& s);

// str.splitlines.
std::vector<std::string> splitlines(const std::string& s, bool keepends);

}  // namespace allm::jinja::text
