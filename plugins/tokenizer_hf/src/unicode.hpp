#pragma once
// Unicode character classes and normalization forms, answered by utf8proc
// (no tables of our own).
#include <string>
#include <string_view>

namespace allm::hf::unicode {

bool is_whitespace(char32_t c);    // White_Space, as Rust's char::is_whitespace
bool is_alphanumeric(char32_t c);  // letters and numbers
bool is_numeric(char32_t c);       // general category N*
bool is_punctuation(char32_t c);   // general category P*
bool is_combining_mark(char32_t c);  // general category Mn
bool is_control(char32_t c);       // general category Cc/Cf, excluding \t \n \r
bool is_cjk(char32_t c);           // CJK ideograph blocks, as BERT pads them
char32_t to_lower(char32_t c);

enum class Form { NFC, NFD, NFKC, NFKD };
std::string normalize(std::string_view text, Form form);

}  // namespace allm::hf::unicode
