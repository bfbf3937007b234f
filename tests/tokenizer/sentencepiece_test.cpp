// The sentencepiece tokenizer plugin (tokenizer.model) and the choice of
// tokenizer plugin by can_load. References: tests/data/tokenizer/
// spm_tiny.*.cases.jsonl, made by tools/spm/make_references.py from the
// tiny model tools/spm/train_tiny.sh trained.
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>

#include <unistd.h>

#include "allm/engine.hpp"
#include "allm/error.hpp"
#include "allm/registry.hpp"
#include "allm/tokenizer_loader.hpp"
#include "hf_factory.hpp"
#include "spm_factory.hpp"
#include "test_support.hpp"

namespace allm::test {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

const fs::path kModelDir = data_dir() / "spm_tiny";

// A scratch directory holding a copy of the tiny tokenizer.model and, when
// given, a tokenizer_config.json.
struct ModelDir {
  fs::path dir;
  explicit ModelDir(const std::string& name, const json& config = nullptr) {
    dir = fs::temp_directory_path() / ("allm_spm_" + name + "_" + std::to_string(::getpid()));
    fs::remove_all(dir);
    fs::create_directories(dir);
    fs::copy_file(kModelDir / "tokenizer.model", dir / "tokenizer.model");
    if (!config.is_null()) std::ofstream(dir / "tokenizer_config.json") << config.dump();
  }
  ~ModelDir() { fs::remove_all(dir); }
};

std::unique_ptr<Tokenizer> load(const fs::path& dir) { return spm::SpmTokenizerFactory().load(dir); }


TEST(SentencePiece, MatchesTheSentencePieceLibrary) {
  auto tok = load(kModelDir);
  const auto cases = read_jsonl(data_dir() / "spm_tiny.sentencepiece.cases.jsonl");
  ASSERT_GE(cases.size(), 30u);
  for (const auto& c : cases) {
    const std::string text = c["text"];
    const auto ids = c["ids"].get<std::vector<TokenId>>();
    EXPECT_EQ(tok->encode(text, false), ids) << json(text).dump();
    EXPECT_EQ(tok->encode(text, true), c["ids_with_special_tokens"].get<std::vector<TokenId>>()) << json(text).dump();
    EXPECT_EQ(tok->decode(ids, false), c["decoded"].get<std::string>()) << json(text).dump();
    EXPECT_EQ(tok->decode(ids, true), c["decoded_skip_special"].get<std::string>()) << json(text).dump();
  }
}

// transformers' sentencepiece-based tokenizer on the GPU machine
// (transformers 5.17: SentencePieceBackend with the slow Llama tokenizer's
// settings; tools/spm/make_references.py), special tokens and byte fallback
// included. Ids must be equal. transformers 5's decode of these ids only
// joins the pieces (U+2581 -> space) and strips the ends: where no
// byte-fallback piece is involved, the plugin's text with its ends stripped
// must equal it; byte-fallback pieces stay "<0xF0>" there, so those texts are
// checked against the SentencePiece library (the test above). A "decoded"
// field (the generator writes it with transformers' LlamaConverter decoder)
// must match exactly where present.
bool has_byte_piece(const Tokenizer& tok, const std::vector<TokenId>& ids) {
  for (TokenId id : ids) {
    const auto piece = tok.id_to_token(id);
    if (piece && piece->size() == 6 && piece->starts_with("<0x")) return true;
  }
  return false;
}

std::string strip_ends(std::string s) {
  const auto first = s.find_first_not_of(" \t\n");
  if (first == std::string::npos) return "";
  return s.substr(first, s.find_last_not_of(" \t\n") - first + 1);
}

TEST(SentencePiece, MatchesTransformersSentencePieceTokenizer) {
  const fs::path file = data_dir() / "spm_tiny.transformers.cases.jsonl";
  auto tok = load(kModelDir);
  size_t cases = 0, texts_compared = 0;
  for (const auto& c : read_jsonl(file)) {
    const std::string text = c["text"];
    const auto ids = c["ids"].get<std::vector<TokenId>>();
    EXPECT_EQ(tok->encode(text, false), ids) << json(text).dump();
    EXPECT_EQ(tok->encode(text, true), c["ids_with_special_tokens"].get<std::vector<TokenId>>()) << json(text).dump();
    if (c.contains("decoded")) {
      EXPECT_EQ(tok->decode(ids, false), c["decoded"].get<std::string>()) << json(text).dump();
      EXPECT_EQ(tok->decode(ids, true), c["decoded_skip_special"].get<std::string>()) << json(text).dump();
    }
    if (!has_byte_piece(*tok, ids)) {
      EXPECT_EQ(strip_ends(tok->decode(ids, false)), c["decoded_transformers_join"].get<std::string>())
          << json(text).dump();
      ++texts_compared;
    }
    ++cases;
  }
  EXPECT_GE(cases, 12u);
  EXPECT_GE(texts_compared, 8u);
}

TEST(SentencePiece, SpecialTokensAreSplitOutOfTheText) {
  auto tok = load(kModelDir);
  ASSERT_EQ(tok->bos_id(), 1);
  ASSERT_EQ(tok->eos_id(), 2);
  EXPECT_TRUE(tok->adds_bos());
  // "<s>" in the text is BOS, not the characters '<', 's', '>'.
  const auto hello = tok->encode("Hello", false);
  std::vector<TokenId> expected = {1};
  expected.insert(expected.end(), hello.begin(), hello.end());
  expected.push_back(2);
  EXPECT_EQ(tok->encode("<s>Hello</s>", false), expected);
  EXPECT_TRUE(tok->is_special(1));
  EXPECT_TRUE(tok->is_special(2));
  EXPECT_FALSE(tok->is_special(hello.back()));
  EXPECT_EQ(tok->decode(expected, true), "Hello");
}

TEST(SentencePiece, ByteFallbackRoundTrips) {
  auto tok = load(kModelDir);
  const auto ids = tok->encode("😀", false);
  std::vector<std::string> pieces;
  for (TokenId id : ids) pieces.push_back(tok->id_to_token(id).value_or("?"));
  // A dummy-prefix piece, then the emoji's four UTF-8 bytes as byte pieces.
  ASSERT_EQ(pieces.size(), 5u);
  EXPECT_EQ(pieces[1], "<0xF0>");
  EXPECT_EQ(pieces[4], "<0x80>");
  EXPECT_EQ(tok->decode(ids, true), "😀");
  EXPECT_EQ(tok->token_to_id("<0xF0>"), ids[1]);
}

TEST(SentencePiece, ConfigSetsBosEosAndAddedTokens) {
  const json config = {{"add_bos_token", false},
                       {"add_eos_token", true},
                       {"added_tokens_decoder",
                        {{"512", {{"content", "<tool>"}, {"rstrip", true}, {"special", false}}},
                         {"3", {{"content", "<|im_start|>"}, {"special", true}}}}}};
  ModelDir d("config", config);
  auto tok = load(d.dir);
  EXPECT_FALSE(tok->adds_bos());
  EXPECT_EQ(tok->vocab_size(), 513u);  // the added token past tokenizer.model's 512 pieces
  const auto ids = tok->encode("<tool>   x", true);
  // No BOS, the added token, the text with the spaces after it stripped (rstrip), EOS.
  auto x = tok->encode("x", false);
  std::vector<TokenId> expected = {512};
  expected.insert(expected.end(), x.begin(), x.end());
  expected.push_back(2);
  EXPECT_EQ(ids, expected);
  EXPECT_EQ(tok->id_to_token(512), "<tool>");
  EXPECT_EQ(tok->token_to_id("<tool>"), 512);
}

TEST(SentencePiece, BadConfigAndModelNameTheProblem) {
  {
    ModelDir d("legacy", json{{"legacy", false}});
    try {
      load(d.dir);
      FAIL() << "legacy: false accepted";
    } catch (const UnsupportedError& e) {
      EXPECT_NE(std::string(e.what()).find("legacy: false"), std::string::npos) << e.what();
    }
  }
  {
    ModelDir d("mismatch", json{{"added_tokens_decoder", {{"5", {{"content", "<tool>"}}}}}});
    try {
      load(d.dir);
      FAIL() << "an added token contradicting tokenizer.model accepted";
    } catch (const TokenizerError& e) {
      EXPECT_NE(std::string(e.what()).find("added_tokens_decoder.5"), std::string::npos) << e.what();
    }
  }
  {
    ModelDir d("bos", json{{"bos_token", "<nope>"}});
    EXPECT_THROW(load(d.dir), TokenizerError);
  }
  {
    ModelDir d("junk");
    std::ofstream(d.dir / "tokenizer.model", std::ios::binary | std::ios::trunc) << "\x0A\x05junk!";
    EXPECT_THROW(load(d.dir), TokenizerError);
  }
  auto tok = load(kModelDir);
  try {
    tok->encode("ab\xFF", false);
    FAIL() << "invalid UTF-8 accepted";
  } catch (const TokenizerError& e) {
    EXPECT_NE(std::string(e.what()).find("invalid UTF-8 at byte offset 2"), std::string::npos) << e.what();
  }
  EXPECT_THROW(tok->decode({1, 9999}, false), TokenizerError);
}

// The tokenizer plugins as the host registers them, for the can_load choice.
class TokenizerChoice : public ::testing::Test {
 protected:
  void SetUp() override {
    Registry::instance().clear();
    Registry::instance().add({ALLM_KIND_TOKENIZER, "hf", 100, &hf_, "tokenizer-hf", "<test>"});
    Registry::instance().add({ALLM_KIND_TOKENIZER, "sentencepiece", 50, &spm_, "tokenizer-sentencepiece", "<test>"});
  }
  void TearDown() override { Registry::instance().clear(); }
  hf::HfTokenizerFactory hf_;
  spm::SpmTokenizerFactory spm_;
};

TEST_F(TokenizerChoice, TokenizerModelOnlyGetsSentencePiece) {
  ModelDir d("only_model");
  const auto fit = tokenizers_for(d.dir);
  ASSERT_EQ(fit.size(), 1u);
  EXPECT_EQ(fit[0].name, "sentencepiece");
  const auto cases = read_jsonl(data_dir() / "spm_tiny.sentencepiece.cases.jsonl");
  auto tok = load_tokenizer(d.dir);
  for (const auto& c : cases) EXPECT_EQ(tok->encode(c["text"].get<std::string>(), false), c["ids"].get<std::vector<TokenId>>());
  // A checkpoint directory with only tokenizer.model.
  Checkpoint ck;
  ck.source = d.dir;
  EXPECT_EQ(load_checkpoint_tokenizer(ck)->vocab_size(), 512u);
}

TEST_F(TokenizerChoice, TokenizerJsonWinsWhenBothAreThere) {
  ModelDir d("both");
  fs::copy_file(data_dir() / "tiny_bpe" / "tokenizer.json", d.dir / "tokenizer.json");
  const auto fit = tokenizers_for(d.dir);
  ASSERT_EQ(fit.size(), 2u);
  EXPECT_EQ(fit[0].name, "hf");
  EXPECT_EQ(fit[1].name, "sentencepiece");
  EXPECT_EQ(load_tokenizer(d.dir)->encode("Hello world", false),
            hf_.load(data_dir() / "tiny_bpe")->encode("Hello world", false));
}

TEST_F(TokenizerChoice, NoTokenizerFileNamesTheDirectoryAndThePlugins) {
  ModelDir d("none");
  fs::remove(d.dir / "tokenizer.model");
  try {
    load_tokenizer(d.dir);
    FAIL() << "loaded a tokenizer from an empty directory";
  } catch (const TokenizerError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find(d.dir.string()), std::string::npos) << what;
    EXPECT_NE(what.find("hf, sentencepiece"), std::string::npos) << what;
  }
  Checkpoint ck;
  ck.source = d.dir;
  EXPECT_THROW(load_checkpoint_tokenizer(ck), ModelLoadError);
  // A tokenizer.json document (GGUF) goes to the factory that reads documents.
  ck.tokenizer_json_text = R"({"model": {"type": "BPE", "vocab": {"a": 0}, "merges": []}})";
  EXPECT_EQ(load_checkpoint_tokenizer(ck)->vocab_size(), 1u);
}

}  // namespace
}  // namespace allm::test
