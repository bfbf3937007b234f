// Bad tokenizer.json files and bad input fail with TokenizerError messages
// that name the place: file and JSON path, line and column, byte offset.
#include <gtest/gtest.h>

#include <fstream>

#include "allm/error.hpp"
#include "hf_factory.hpp"
#include "test_support.hpp"

namespace allm::test {
namespace {

std::string error_of(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const TokenizerError& e) {
    return e.what();
  }
  return "(no TokenizerError)";
}

TEST(PipelineErrors, UnknownPreTokenizerTypeNamesFileAndPath) {
  auto doc = byte_level_doc({}, {});
  doc["pre_tokenizer"] = {{"type", "Sequence"},
                          {"pretokenizers", {{{"type", "Digits"}}, {{"type", "Foo"}}}}};
  EXPECT_EQ(error_of([&] { from_json(doc); }),
            "test.json: /pre_tokenizer/pretokenizers/1/type: unknown pre-tokenizer type 'Foo'");
}

TEST(PipelineErrors, UnknownComponentTypesOfEveryKind) {
  auto doc = byte_level_doc({}, {});
  doc["normalizer"] = {{"type", "Bar"}};
  EXPECT_EQ(error_of([&] { from_json(doc); }), "test.json: /normalizer/type: unknown normalizer type 'Bar'");
  doc = byte_level_doc({}, {});
  doc["decoder"] = {{"type", "Sequence"}, {"decoders", {{{"type", "Baz"}}}}};
  EXPECT_EQ(error_of([&] { from_json(doc); }), "test.json: /decoder/decoders/0/type: unknown decoder type 'Baz'");
  doc = byte_level_doc({}, {});
  doc["post_processor"] = {{"type", "Qux"}};
  EXPECT_EQ(error_of([&] { from_json(doc); }), "test.json: /post_processor/type: unknown post-processor type 'Qux'");
  doc = byte_level_doc({}, {});
  doc["model"]["type"] = "Unigram2";
  EXPECT_EQ(error_of([&] { from_json(doc); }), "test.json: /model/type: unknown model type 'Unigram2'");
}

TEST(PipelineErrors, BadFieldsNameTheirPath) {
  auto doc = byte_level_doc({}, {"a b"});
  EXPECT_EQ(error_of([&] { from_json(doc); }), "test.json: /model/merges/0: merge token 'ab' is not in the vocabulary");
  doc = byte_level_doc({}, {});
  doc["pre_tokenizer"] = {{"type", "Split"}, {"pattern", {{"Regex", "(unclosed"}}}, {"behavior", "Isolated"}};
  EXPECT_NE(error_of([&] { from_json(doc); }).find("test.json: /pre_tokenizer/pattern/Regex: invalid regex"),
            std::string::npos);
  doc = byte_level_doc({}, {});
  doc["pre_tokenizer"] = {{"type", "Split"}, {"pattern", {{"String", " "}}}, {"behavior", "Sideways"}};
  EXPECT_EQ(error_of([&] { from_json(doc); }), "test.json: /pre_tokenizer/behavior: unknown split behavior 'Sideways'");
  doc = byte_level_doc({}, {});
  doc["model"].erase("vocab");
  EXPECT_EQ(error_of([&] { from_json(doc); }), "test.json: /model: missing member 'vocab'");
  doc = byte_level_doc({}, {});
  doc["added_tokens"] = {{{"id", "seven"}, {"content", "<x>"}}};
  EXPECT_EQ(error_of([&] { from_json(doc); }), "test.json: /added_tokens/0/id: expected an integer, found a string");
}

TEST(PipelineErrors, MalformedJsonNamesLineAndColumn) {
  std::string text = "{\n  \"model\": {\n    \"type\": \"BPE\",,\n  }\n}";
  std::string err = error_of([&] { hf::HfTokenizerFactory().load_json(text, "broken.json"); });
  EXPECT_EQ(err.rfind("broken.json: malformed JSON at line 3, column 19 (byte 33)", 0), 0u) << err;
}

TEST(PipelineErrors, MissingSourceIsReported) {
  EXPECT_EQ(error_of([] { hf::HfTokenizerFactory().load("/nonexistent/model"); }),
            "/nonexistent/model: no such file or directory");
  auto empty_dir = std::filesystem::temp_directory_path() / "allm_tokenizer_empty_dir";
  std::filesystem::create_directories(empty_dir);
  EXPECT_EQ(error_of([&] { hf::HfTokenizerFactory().load(empty_dir); }),
            empty_dir.string() + ": directory has no tokenizer.json");
}

TEST(PipelineErrors, InvalidUtf8InputNamesTheByteOffset) {
  auto tok = from_json(byte_level_doc({}, {}));
  EXPECT_EQ(error_of([&] { tok->encode("abc\xFF" "def", false); }),
            "encode: invalid UTF-8 at byte offset 3 (byte 0xFF)");
  // A truncated sequence at the end, an overlong form, a surrogate.
  EXPECT_NE(error_of([&] { tok->encode("ok\xE2\x82", false); }).find("byte offset 2"), std::string::npos);
  EXPECT_NE(error_of([&] { tok->encode("\xC0\xAF", false); }).find("byte offset 0"), std::string::npos);
  EXPECT_NE(error_of([&] { tok->encode("x\xED\xA0\x80", false); }).find("byte offset 1"), std::string::npos);
}

}  // namespace
}  // namespace allm::test
