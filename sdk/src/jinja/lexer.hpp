#pragma once
// Splits template source into tokens: text between tags (with whitespace control,
// trim_blocks and lstrip_blocks already applied, as transformers configures
// Jinja), tag delimiters, and the expression tokens inside tags.
#include <string>
#include <vector>

namespace allm::jinja {

enum class Tok {
  Text,        // literal output
  VarBegin,    // {{
  VarEnd,      // }}
  BlockBegin,  // {%
  BlockEnd,    // %}
  Name,
  String,
  Integer,
  Float,
  Op,  // operator or punctuation; text holds it
  Eof,
};

struct Token {
  Tok kind;
  std::string text;  // Text: the data; String: the unescaped value; Name/Op/number: as written
  int line = 1;
  int column = 1;
};

// Throws TemplateError (naming origin:line:column) on an unterminated tag,
// comment or string, or an unexpected character.
std::vector<Token> tokenize(const std::string& source, const std::string& origin);

}  // namespace allm::jinja
