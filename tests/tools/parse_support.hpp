#pragma once
// Runs a reply through ReplyParser whole, split at every byte, and byte by
// byte; every way must give the same content, reasoning and calls.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "allm/tool_calls.hpp"

namespace allm::tools::test {

// Every event carries whole UTF-8 characters (clients put them in JSON).
inline bool valid_utf8(const std::string& s) {
  for (size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    const size_t n = c < 0x80 ? 1 : (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : (c & 0xF8) == 0xF0 ? 4 : 0;
    if (n == 0 || i + n > s.size()) return false;
    for (size_t k = 1; k < n; ++k)
      if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return false;
    i += n;
  }
  return true;
}

inline ParsedReply collect(ReplyParser& p, const std::vector<std::string>& pieces) {
  ParsedReply r;
  size_t next_index = 0;
  auto take = [&](std::vector<ReplyEvent> events) {
    for (auto& e : events) {
      EXPECT_TRUE(valid_utf8(e.text)) << "event splits a UTF-8 character: ";
      if (e.kind == ReplyEvent::content) r.content += e.text;
      else if (e.kind == ReplyEvent::reasoning) r.reasoning += e.text;
      else {
        EXPECT_EQ(e.index, next_index++) << "call indexes count up from 0";
        r.tool_calls.push_back(e.tool_call);
      }
    }
  };
  for (const auto& piece : pieces) take(p.feed(piece));
  take(p.finish());
  return r;
}

inline bool same(const ParsedReply& a, const ParsedReply& b) {
  if (a.content != b.content || a.reasoning != b.reasoning || a.tool_calls.size() != b.tool_calls.size()) return false;
  for (size_t i = 0; i < a.tool_calls.size(); ++i)
    if (a.tool_calls[i].name != b.tool_calls[i].name || a.tool_calls[i].arguments != b.tool_calls[i].arguments)
      return false;
  return true;
}

inline std::string show(const ParsedReply& r) {
  std::string s = "content=" + nlohmann::json(r.content).dump() + " reasoning=" + nlohmann::json(r.reasoning).dump();
  for (auto& c : r.tool_calls) s += " call " + c.name + " " + c.arguments;
  return s;
}

// The reply parsed whole; checks that every split gives the same.
inline ParsedReply parse_every_way(const Dialect& d, const nlohmann::json& tools, const std::string& text) {
  ReplyParser whole(d, tools);
  const ParsedReply ref = collect(whole, {text});
  for (size_t k = 0; k <= text.size(); ++k) {
    ReplyParser p(d, tools);
    const ParsedReply r = collect(p, {text.substr(0, k), text.substr(k)});
    EXPECT_TRUE(same(ref, r)) << "split at " << k << ": " << show(r) << "\nwhole: " << show(ref);
    if (!same(ref, r)) break;
  }
  std::vector<std::string> bytes;
  for (char c : text) bytes.emplace_back(1, c);
  ReplyParser p(d, tools);
  const ParsedReply r = collect(p, bytes);
  EXPECT_TRUE(same(ref, r)) << "byte by byte: " << show(r) << "\nwhole: " << show(ref);
  return ref;
}

}  // namespace allm::tools::test
