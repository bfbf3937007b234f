#include <gtest/gtest.h>

#include "allm/error.hpp"
#include "media_fixtures.hpp"
#include "text_handler.hpp"

using namespace media_test;
using allm::MediaError;
using allm::media::TextHandler;

namespace {

int score_of(const std::string& name) {
  TextHandler h;
  auto bytes = read_all(data(name));
  std::span<const uint8_t> head(bytes.data(), std::min<size_t>(bytes.size(), allm::kMediaSniffBytes));
  return h.score(data(name), head);
}

}  // namespace

TEST(TextHandler, FramesMarkdownWithFileName) {
  auto c = load_with(TextHandler{}, "notes.md");
  EXPECT_EQ(c.kind, allm::MediaKind::text);
  EXPECT_EQ(c.mime, "text/markdown");
  EXPECT_EQ(c.name, "notes.md");
  EXPECT_EQ(c.text, "--- file: notes.md ---\n# Notes\n\nThe answer is **42**.\n--- end of file: notes.md ---\n");
}

TEST(TextHandler, KnownExtensionsAndNamesScoreFifty) {
  EXPECT_EQ(score_of("code.py"), 50);
  EXPECT_EQ(score_of("table.csv"), 50);
  EXPECT_EQ(score_of("settings.yaml"), 50);
  EXPECT_EQ(score_of("Dockerfile"), 50);
  EXPECT_EQ(score_of("notes.custom"), 10);  // unknown extension, but UTF-8 text
  EXPECT_EQ(score_of("blob.bin"), 0);       // NUL bytes: not text
  EXPECT_EQ(score_of("latin1.txt"), 50);    // by name; load() reports the encoding
}

TEST(TextHandler, LoadsSourceCodeCsvAndUnknownText) {
  EXPECT_NE(load_with(TextHandler{}, "code.py").text.find("def add(a, b):\n    return a + b\n"), std::string::npos);
  EXPECT_EQ(load_with(TextHandler{}, "table.csv").mime, "text/csv");
  auto custom = load_with(TextHandler{}, "notes.custom");
  EXPECT_EQ(custom.mime, "text/plain");
  EXPECT_NE(custom.text.find("caf\xc3\xa9 \xe2\x9c\x93"), std::string::npos);
}

TEST(TextHandler, StripsBomAndCrlf) {
  auto c = load_with(TextHandler{}, "bom_crlf.txt");
  EXPECT_EQ(c.text, "--- file: bom_crlf.txt ---\nline one\nline two\n--- end of file: bom_crlf.txt ---\n");
}

TEST(TextHandler, RejectsNonUtf8WithOffset) {
  try {
    load_with(TextHandler{}, "latin1.txt");
    FAIL() << "expected MediaError";
  } catch (const MediaError& e) {
    std::string m = e.what();
    EXPECT_NE(m.find("latin1.txt"), std::string::npos) << m;
    EXPECT_NE(m.find("0xE9 at offset 3"), std::string::npos) << m;
  }
}

TEST(TextHandler, RejectsNulAsBinary) {
  try {
    load_with(TextHandler{}, "nul.txt");
    FAIL() << "expected MediaError";
  } catch (const MediaError& e) {
    std::string m = e.what();
    EXPECT_NE(m.find("nul.txt: binary data"), std::string::npos) << m;
    EXPECT_NE(m.find("offset 15"), std::string::npos) << m;
  }
}

TEST(TextHandler, Utf16IsNamedAsSuch) {
  const uint8_t utf16[] = {0xFF, 0xFE, 'h', 0, 'i', 0};
  try {
    TextHandler{}.load("wide.txt", utf16);
    FAIL() << "expected MediaError";
  } catch (const MediaError& e) {
    EXPECT_NE(std::string(e.what()).find("wide.txt: UTF-16 text"), std::string::npos) << e.what();
  }
}

TEST(Utf8Check, FindsFirstBadByte) {
  auto check = [](std::string s, bool tail = false) {
    return allm::find_non_text_byte({reinterpret_cast<const uint8_t*>(s.data()), s.size()}, tail);
  };
  EXPECT_EQ(check("plain ascii"), std::string::npos);
  EXPECT_EQ(check("\xe2\x9c\x93 ok"), std::string::npos);
  EXPECT_EQ(check("ab\xc0\xaf"), 2u);          // overlong '/'
  EXPECT_EQ(check("x\xed\xa0\x80"), 1u);       // UTF-16 surrogate
  EXPECT_EQ(check("x\xf4\x90\x80\x80"), 1u);   // past U+10FFFF
  EXPECT_EQ(check("ok\xe2\x9c"), 2u);          // cut off ...
  EXPECT_EQ(check("ok\xe2\x9c", true), std::string::npos);  // ... allowed at a sniff boundary
  EXPECT_EQ(check("ok\xe2x", true), 2u);       // a broken sequence is still broken
}
