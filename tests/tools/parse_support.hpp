#pragma once
// Runs a reply through ReplyParser whole, split at every byte, and byte by
// byte; every way must give the same content, reasoning and calls — with
// whole calls, and with calls streamed (CallEvents::streamed), where each
// call's argument pieces must add up to exactly its arguments.
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

// What a streamed parse showed of its calls.
struct StreamedCalls {
  size_t started = 0, abandoned = 0;
  std::vector<size_t> pieces;  // argument pieces of each completed call
  bool start_before_end = false;  // some call started before the text ended
};

// Streamed call events: a call starts (indexes counting up from 0), sends
// pieces, then ends as a call whose arguments are exactly its pieces joined,
// or is abandoned — and then its text follows as content at once. Calls never
// interleave.
inline ParsedReply collect_streamed(ReplyParser& p, const std::vector<std::string>& pieces, StreamedCalls* seen = nullptr) {
  ParsedReply r;
  struct Open {
    std::string name, args;
    bool ended = false;
  };
  std::vector<Open> calls;
  StreamedCalls local;
  StreamedCalls& st = seen ? *seen : local;
  std::vector<size_t> piece_count;
  bool after_abandon = false;
  auto take = [&](std::vector<ReplyEvent> events, bool last) {
    for (auto& e : events) {
      EXPECT_TRUE(valid_utf8(e.text)) << "event splits a UTF-8 character";
      if (after_abandon && e.kind != ReplyEvent::call_abandoned) {
        EXPECT_EQ(e.kind, ReplyEvent::content) << "an abandoned call's text follows it as content";
        after_abandon = false;
      }
      switch (e.kind) {
        case ReplyEvent::content: r.content += e.text; break;
        case ReplyEvent::reasoning: r.reasoning += e.text; break;
        case ReplyEvent::call_start:
          EXPECT_EQ(e.index, calls.size()) << "streamed calls are numbered as they start";
          EXPECT_TRUE(calls.empty() || calls.back().ended || !calls.back().args.empty()) << "calls do not interleave";
          calls.push_back({e.tool_call.name, "", false});
          piece_count.push_back(0);
          ++st.started;
          if (!last) st.start_before_end = true;
          break;
        case ReplyEvent::call_arguments:
          EXPECT_EQ(e.index + 1, calls.size()) << "pieces belong to the last call started";
          EXPECT_FALSE(e.text.empty());
          if (e.index < calls.size()) {
            EXPECT_FALSE(calls[e.index].ended);
            calls[e.index].args += e.text;
            ++piece_count[e.index];
          }
          break;
        case ReplyEvent::call:
          EXPECT_LT(e.index, calls.size()) << "a call ends after it started";
          if (e.index < calls.size()) {
            EXPECT_EQ(calls[e.index].name, e.tool_call.name) << "the name it started with";
            EXPECT_EQ(calls[e.index].args, e.tool_call.arguments) << "the pieces add up to the arguments";
            EXPECT_FALSE(calls[e.index].ended);
            calls[e.index].ended = true;
            st.pieces.push_back(piece_count[e.index]);
          }
          r.tool_calls.push_back(e.tool_call);
          break;
        case ReplyEvent::call_abandoned:
          EXPECT_LT(e.index, calls.size());
          if (e.index < calls.size()) calls[e.index].ended = true;
          ++st.abandoned;
          after_abandon = true;
          break;
      }
    }
  };
  for (const auto& piece : pieces) take(p.feed(piece), false);
  take(p.finish(), true);
  EXPECT_FALSE(after_abandon) << "an abandoned call's text follows it";
  for (auto& c : calls) EXPECT_TRUE(c.ended) << "every started call ends: " << c.name;
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

// The reply parsed whole; checks that every split gives the same, with
// whole and with streamed calls. `streamed` (if given): what the byte-by-byte
// streamed parse showed of its calls.
inline ParsedReply parse_every_way(const Dialect& d, const nlohmann::json& tools, const std::string& text,
                                   StreamedCalls* streamed = nullptr) {
  ReplyParser whole(d, tools);
  const ParsedReply ref = collect(whole, {text});
  for (size_t k = 0; k <= text.size(); ++k) {
    ReplyParser p(d, tools);
    const ParsedReply r = collect(p, {text.substr(0, k), text.substr(k)});
    EXPECT_TRUE(same(ref, r)) << "split at " << k << ": " << show(r) << "\nwhole: " << show(ref);
    ReplyParser ps(d, tools, CallEvents::streamed);
    const ParsedReply rs = collect_streamed(ps, {text.substr(0, k), text.substr(k)});
    EXPECT_TRUE(same(ref, rs)) << "streamed calls, split at " << k << ": " << show(rs) << "\nwhole: " << show(ref);
    if (!same(ref, r) || !same(ref, rs) || ::testing::Test::HasFailure()) break;
  }
  std::vector<std::string> bytes;
  for (char c : text) bytes.emplace_back(1, c);
  ReplyParser p(d, tools);
  const ParsedReply r = collect(p, bytes);
  EXPECT_TRUE(same(ref, r)) << "byte by byte: " << show(r) << "\nwhole: " << show(ref);
  ReplyParser ps(d, tools, CallEvents::streamed);
  const ParsedReply rs = collect_streamed(ps, bytes, streamed);
  EXPECT_TRUE(same(ref, rs)) << "streamed calls, byte by byte: " << show(rs) << "\nwhole: " << show(ref);
  return ref;
}

}  // namespace allm::tools::test
