// libFuzzer target for the tokenizer.json pipeline.
//  - Input starting with '{': a tokenizer.json document, optionally followed by
//    a NUL and a text. Loading may fail only with allm::Error; a tokenizer
//    that loads then encodes the text and decodes the result.
//  - Any other input: a text encoded by a built-in tokenizer that uses most
//    components (added tokens with lstrip/rstrip/single_word, normalizers,
//    regex and Metaspace splits, byte-level BPE), then decoded, also through
//    StreamDecoder, and the ids reinterpreted as arbitrary ids.
// Invalid UTF-8 must be rejected with TokenizerError; nothing may crash or hang.
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>

#include "allm/error.hpp"
#include "allm/tokenizer.hpp"
#include "byte_level_alphabet.hpp"
#include "hf_factory.hpp"

namespace {

std::unique_ptr<allm::Tokenizer> builtin_tokenizer() {
  nlohmann::json vocab = nlohmann::json::object();
  int next = 0;
  for (auto& ch : allm::hf::byte_level::byte_to_char()) vocab[ch] = next++;
  for (const char* t : {"Ġt", "he", "Ġthe", "in", "Ġa", "er"}) vocab[t] = next++;
  nlohmann::json added = nlohmann::json::array();
  const char* specials[] = {"<|s|>", "<mask>", "word", "<|e|>"};
  for (int i = 0; i < 4; ++i)
    added.push_back({{"id", next + i}, {"content", specials[i]}, {"special", i != 2}, {"lstrip", i == 1},
                     {"rstrip", i == 1 || i == 3}, {"single_word", i == 2}, {"normalized", i == 2}});
  nlohmann::json doc = {
      {"added_tokens", added},
      {"normalizer", {{"type", "Sequence"}, {"normalizers", {{{"type", "NFKC"}}, {{"type", "Lowercase"}}}}}},
      {"pre_tokenizer",
       {{"type", "Sequence"},
        {"pretokenizers",
         {{{"type", "Split"},
           {"pattern", {{"Regex", R"((?i:'s|'t|'re)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)"}}},
           {"behavior", "Isolated"}},
          {{"type", "Digits"}, {"individual_digits", true}},
          {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"use_regex", false}}}}}},
      {"post_processor",
       {{"type", "TemplateProcessing"},
        {"single", {{{"SpecialToken", {{"id", "<|s|>"}}}}, {{"Sequence", {{"id", "A"}}}}}},
        {"special_tokens", {{"<|s|>", {{"id", "<|s|>"}, {"ids", {next}}}}}}}},
      {"decoder", {{"type", "ByteLevel"}}},
      {"model",
       {{"type", "BPE"}, {"vocab", vocab}, {"merges", {"Ġ t", "h e", "Ġt he", "i n", "Ġ a", "e r"}}, {"ignore_merges", true}}}};
  return allm::hf::HfTokenizerFactory().load_json(doc.dump(), "builtin.json");
}

void exercise(const allm::Tokenizer& tok, const std::string& text) {
  std::vector<allm::TokenId> ids;
  try {
    ids = tok.encode(text, true);
  } catch (const allm::TokenizerError&) {
    return;  // invalid UTF-8 (or a regex limit) is a reported error, not a crash
  }
  (void)tok.decode(ids, false);
  allm::StreamDecoder stream(tok);
  for (auto id : ids) (void)stream.push(id);
  (void)stream.finish();
  // The raw bytes as ids: unknown ids must be ignored.
  std::vector<allm::TokenId> arbitrary;
  for (size_t i = 0; i + 4 <= text.size(); i += 4) {
    int32_t v;
    std::memcpy(&v, text.data() + i, 4);
    arbitrary.push_back(v);
  }
  (void)tok.decode(arbitrary, true);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const auto builtin = builtin_tokenizer();
  std::string input(reinterpret_cast<const char*>(data), size);
  if (input.empty() || input[0] != '{') {
    exercise(*builtin, input);
    return 0;
  }
  size_t nul = input.find('\0');
  std::string doc = input.substr(0, nul);
  std::string text = nul == std::string::npos ? "hello world 123" : input.substr(nul + 1);
  std::unique_ptr<allm::Tokenizer> tok;
  try {
    tok = allm::hf::HfTokenizerFactory().load_json(doc, "fuzz.json");
  } catch (const allm::Error&) {
    return 0;
  }
  exercise(*tok, text);
  return 0;
}
