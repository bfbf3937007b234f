// StreamDecoder hands out text as ids arrive and never splits a UTF-8
// character: not across byte-fallback tokens, not across the byte-level
// pieces of an emoji.
#include <gtest/gtest.h>

#include "allm/tokenizer.hpp"
#include "test_support.hpp"

namespace allm::test {
namespace {

// Feeds ids one by one; checks every chunk is valid UTF-8 and that the chunks
// add up to the full decode.
std::vector<std::string> stream(const Tokenizer& tok, const std::vector<TokenId>& ids, bool skip_special = true) {
  StreamDecoder dec(tok, skip_special);
  std::vector<std::string> chunks;
  for (TokenId id : ids) chunks.push_back(dec.push(id));
  chunks.push_back(dec.finish());
  return chunks;
}

// nlohmann refuses to serialise invalid UTF-8.
bool valid_utf8(const std::string& s) {
  try {
    (void)nlohmann::json(s).dump();
    return true;
  } catch (const nlohmann::json::exception&) {
    return false;
  }
}

std::string join(const std::vector<std::string>& chunks) {
  std::string s;
  for (auto& c : chunks) s += c;
  return s;
}

// A SentencePiece-style tokenizer with byte fallback: "€" is not in the
// vocabulary, so it encodes as <0xE2><0x82><0xAC>.
nlohmann::json byte_fallback_doc() {
  nlohmann::json vocab = {{"<unk>", 0}, {"<s>", 1}, {"</s>", 2}};
  int next = 3;
  for (int b = 0; b < 256; ++b) {
    char name[8];
    std::snprintf(name, sizeof name, "<0x%02X>", b);
    vocab[name] = next++;
  }
  for (const char* t : {"\xE2\x96\x81", "a", "b", "\xE2\x96\x81" "a"}) vocab[t] = next++;
  return {{"added_tokens",
           {{{"id", 0}, {"content", "<unk>"}, {"special", true}},
            {{"id", 1}, {"content", "<s>"}, {"special", true}},
            {{"id", 2}, {"content", "</s>"}, {"special", true}}}},
          {"normalizer",
           {{"type", "Sequence"},
            {"normalizers",
             {{{"type", "Prepend"}, {"prepend", "\xE2\x96\x81"}},
              {{"type", "Replace"}, {"pattern", {{"String", " "}}}, {"content", "\xE2\x96\x81"}}}}}},
          {"pre_tokenizer", nullptr},
          {"post_processor", nullptr},
          {"decoder",
           {{"type", "Sequence"},
            {"decoders",
             {{{"type", "Replace"}, {"pattern", {{"String", "\xE2\x96\x81"}}}, {"content", " "}},
              {{"type", "ByteFallback"}},
              {{"type", "Fuse"}},
              {{"type", "Strip"}, {"content", " "}, {"start", 1}, {"stop", 0}}}}}},
          {"model",
           {{"type", "BPE"},
            {"vocab", vocab},
            {"merges", {"\xE2\x96\x81 a"}},
            {"unk_token", "<unk>"},
            {"byte_fallback", true},
            {"fuse_unk", true}}}};
}

TEST(StreamDecoder, HoldsByteFallbackBytesUntilTheCharacterIsComplete) {
  auto tok = from_json(byte_fallback_doc());
  auto ids = tok->encode("a\xE2\x82\xAC" "b", false);
  ASSERT_EQ(tok->id_to_token(ids[1]).value_or(""), "<0xE2>");
  ASSERT_EQ(tok->id_to_token(ids[2]).value_or(""), "<0x82>");
  ASSERT_EQ(tok->id_to_token(ids[3]).value_or(""), "<0xAC>");
  auto chunks = stream(*tok, ids);
  ASSERT_EQ(chunks.size(), ids.size() + 1);
  EXPECT_EQ(chunks[0], "a");
  EXPECT_EQ(chunks[1], "");  // <0xE2>: incomplete
  EXPECT_EQ(chunks[2], "");  // <0x82>: incomplete
  EXPECT_EQ(chunks[3], "\xE2\x82\xAC");
  EXPECT_EQ(chunks[4], "b");
  EXPECT_EQ(join(chunks), tok->decode(ids, true));
}

TEST(StreamDecoder, LongByteFallbackStreamMatchesFullDecode) {
  auto tok = from_json(byte_fallback_doc());
  std::string text;
  for (int i = 0; i < 30; ++i) text += i % 3 ? "a \xE2\x82\xAC" : "b\xF0\x9F\x98\x80";
  auto ids = tok->encode(text, false);
  auto chunks = stream(*tok, ids);
  for (auto& c : chunks) EXPECT_TRUE(valid_utf8(c)) << c;
  EXPECT_EQ(join(chunks), tok->decode(ids, true));
  EXPECT_EQ(join(chunks), text);
}

TEST(StreamDecoder, NeverSplitsAByteLevelEmoji) {
  // Byte-level BPE without merges: every byte of the emoji is its own token.
  auto tok = from_json(byte_level_doc({}, {}));
  std::string text = "hi \xF0\x9F\x98\x80 \xF0\x9F\x91\xA8\xE2\x80\x8D\xF0\x9F\x91\xA9 ok";
  auto ids = tok->encode(text, false);
  ASSERT_EQ(ids.size(), text.size());
  auto chunks = stream(*tok, ids);
  for (auto& c : chunks) EXPECT_TRUE(valid_utf8(c)) << c;
  EXPECT_EQ(chunks[3], "");  // first byte of the emoji
  EXPECT_EQ(chunks[6], "\xF0\x9F\x98\x80");
  EXPECT_EQ(join(chunks), text);
}

TEST(StreamDecoder, FinishTurnsATruncatedCharacterIntoReplacement) {
  auto tok = from_json(byte_level_doc({}, {}));
  auto ids = tok->encode("x\xE2\x82\xAC", false);
  StreamDecoder dec(*tok);
  EXPECT_EQ(dec.push(ids[0]), "x");
  EXPECT_EQ(dec.push(ids[1]), "");
  EXPECT_EQ(dec.push(ids[2]), "");
  EXPECT_EQ(dec.finish(), "\xEF\xBF\xBD");
  // After finish the decoder starts afresh.
  EXPECT_EQ(dec.push(ids[0]), "x");
}

TEST(StreamDecoder, SkipsSpecialTokensWhenAsked) {
  auto tok = from_json(byte_fallback_doc());
  std::vector<TokenId> ids = {1};
  auto rest = tok->encode("a b", false);
  ids.insert(ids.end(), rest.begin(), rest.end());
  ids.push_back(2);
  EXPECT_EQ(join(stream(*tok, ids, true)), "a b");
  EXPECT_EQ(join(stream(*tok, ids, false)), tok->decode(ids, false));
}

TEST(StreamDecoder, RealTokenizersStreamTheirCases) {
  for (std::string name : {"llama3", "llama2", "gemma3"}) {
    auto tok = load_real(name);
    if (!tok) {
      if (!npm_available()) GTEST_SKIP() << "npm is not installed";
      FAIL() << name << " not fetched";
    }
    for (auto& c : read_jsonl(data_dir() / (name + ".cases.jsonl"))) {
      auto ids = c["ids"].get<std::vector<TokenId>>();
      auto chunks = stream(*tok, ids);
      for (auto& chunk : chunks) EXPECT_TRUE(valid_utf8(chunk)) << name;
      EXPECT_EQ(join(chunks), c["decoded_skip_special"].get<std::string>()) << name << ": " << c["text"];
    }
  }
}

}  // namespace
}  // namespace allm::test
