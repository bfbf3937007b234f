// The fast mask (DFS-ordered trie, subtree shortcuts, per-fragment caches
// shared across grammars) against the straightforward one (every token's bytes
// run from the state, Matcher::compute_mask_reference) on every state real
// schemas go through with the Llama 3 vocabulary: the MaskBench sample's
// schemas and test texts, tokenized as the benchmark does. One trie serves all
// the grammars, so the shared fragment masks are reused across schemas too.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "allm/grammar.hpp"
#include "hf_factory.hpp"

namespace allm::grammar {
namespace {

nlohmann::ordered_json read_json(const std::filesystem::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return nlohmann::ordered_json::parse(ss.str());
}

size_t first_difference(const std::vector<uint64_t>& a, const std::vector<uint64_t>& b) {
  for (size_t i = 0; i < a.size() * 64; ++i)
    if (((a[i / 64] >> (i % 64)) & 1) != ((b[i / 64] >> (i % 64)) & 1)) return i;
  return SIZE_MAX;
}

TEST(MaskRealVocab, FastMaskEqualsStraightforwardMaskOnMaskBenchSchemas) {
  const std::filesystem::path dir = ALLM_TOKENIZER_CACHE "/llama3_1";
  if (!std::filesystem::exists(dir / "tokenizer.json")) GTEST_SKIP() << "no " << dir << " (fetch_tokenizers.sh)";
  auto tok = hf::HfTokenizerFactory().load(dir);
  auto trie = std::make_shared<const TokenTrie>(token_bytes(*tok));
  // Bounded and patterned strings, formats, enums, numbers with bounds,
  // oneOf/anyOf, $ref, free-form extra members.
  std::vector<std::pair<std::string, nlohmann::ordered_json>> docs;
  for (const char* f : {"Github_medium---o55357.json", "Github_hard---o75287.json", "Github_medium---o3906.json",
                        "Github_easy---o89106.json", "Snowplow---sp_145_Normalized.json", "Github_easy---o64855.json",
                        "Kubernetes---kb_19_Normalized.json", "Github_easy---o42288.json"})
    docs.emplace_back(f, read_json(std::filesystem::path(ALLM_TEST_DATA_DIR) / "json_schema/maskbench" / f));
  // Bounded strings (a chain of positions, no self-loop) and a bounded pattern.
  docs.emplace_back("bounded", nlohmann::ordered_json::parse(R"({"schema": {"type": "object", "properties": {
      "name": {"type": "string", "minLength": 2, "maxLength": 40}, "code": {"type": "string", "pattern": "^[A-Z]{2}-[0-9]{3,5}$"},
      "note": {"type": "string", "maxLength": 7}, "n": {"type": "integer", "minimum": -5, "maximum": 300}}, "required": ["name"]},
    "tests": [{"text": "{\"name\": \"Ada Lovelace, née Byron; \\\"Countess\\\" \\u00e9\", \"code\": \"AB-1234\", \"note\": \"short\", \"n\": 299}", "valid": true},
              {"text": "{\"name\":\"a very long name that goes well past the forty character bound\"}", "valid": false}]})"));
  // Optional members with extra members allowed: key prefixes of the names
  // (masks derived from the free-key loop's), a non-ASCII and an escaped
  // name (the code-point path), extra keys leaving the names at each depth.
  docs.emplace_back("extra", nlohmann::ordered_json::parse(R"({"schema": {"type": "object", "properties": {
      "auth": {"type": "string"}, "authn": {"type": "integer"}, "authentication": {"enum": ["ON", "OFF"]},
      "name": {"type": "string", "maxLength": 300}, "naïve": {"type": "boolean"}, "q\"uote": {"type": "null"},
      "back\\slash": {"type": "number"}}, "additionalProperties": {"type": "integer"}},
    "tests": [{"text": "{\"auth\": \"x\", \"authn\": 1, \"authentication\": \"ON\", \"name\": \"Ada\", \"naïve\": true, \"q\\\"uote\": null, \"back\\\\slash\": 1.5, \"authx\": 2, \"nam\": 3, \"naïf\": 4, \"q\\\"uo\": 5, \"日本\": 6, \"aé\": 7, \"authenticatio\": 8, \"back\\\\slas\": 9}", "valid": true},
              {"text": "{\"auth\": \"x\", \"authentication\": \"ON\", \"authentication2\": 1, \"authn\": 2}", "valid": false}]})"));
  size_t states = 0;
  std::vector<uint64_t> fast, slow;
  for (auto& [f, doc] : docs) {
    Matcher m(compile_json_schema(doc["schema"]), trie);
    for (size_t i = 0; i < doc["tests"].size(); ++i) {
      auto ids = tok->encode(doc["tests"][i]["text"].get<std::string>(), false);
      m.reset();
      // About 8 states a text keep the test quick (a reference mask runs the
      // whole vocabulary); every state of the hand-written bounded strings.
      const size_t stride = f == "bounded" || f == "extra" ? 1 : std::max<size_t>(1, ids.size() / 7);
      for (size_t k = 0; k <= ids.size(); ++k) {
        if (k % stride == 0 || k == ids.size()) {
          m.compute_mask(fast);
          m.compute_mask_reference(slow);
          ++states;
          size_t d = first_difference(fast, slow);
          ASSERT_EQ(d, SIZE_MAX) << f << " test #" << i << " after " << k << " tokens: token " << d << " '"
                                 << trie->bytes(static_cast<TokenId>(d)) << "' fast=" << ((fast[d / 64] >> (d % 64)) & 1);
        }
        if (k == ids.size()) break;
        if (!m.advance_token(ids[k])) {
          // The hand-written valid text must go through, so every state is compared.
          EXPECT_FALSE(f == "extra" && doc["tests"][i]["valid"].get<bool>()) << "rejected at token " << k;
          break;
        }
      }
    }
  }
  std::printf("%zu states compared\n", states);
  EXPECT_GT(states, 100u);
}

}  // namespace
}  // namespace allm::grammar
