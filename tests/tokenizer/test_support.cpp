#include "test_support.hpp"

#include <cstdlib>
#include <fstream>

#include "byte_level_alphabet.hpp"
#include "hf_factory.hpp"

namespace allm::test {

std::unique_ptr<Tokenizer> from_json(const nlohmann::json& doc) {
  return hf::HfTokenizerFactory().load_json(doc.dump(), "test.json");
}

std::unique_ptr<Tokenizer> load_real(const std::string& name) {
  auto dir = cache_dir() / name;
  if (!std::filesystem::exists(dir / "tokenizer.json")) return nullptr;
  return hf::HfTokenizerFactory().load(dir);
}

bool npm_available() { return std::system("command -v npm >/dev/null 2>&1") == 0; }

std::vector<nlohmann::json> read_jsonl(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::vector<nlohmann::json> out;
  std::string line;
  while (std::getline(in, line))
    if (!line.empty()) out.push_back(nlohmann::json::parse(line));
  return out;
}

nlohmann::json byte_level_doc(const std::vector<std::string>& extra_vocab, const std::vector<std::string>& merges) {
  nlohmann::json vocab = nlohmann::json::object();
  int next = 0;
  for (auto& ch : hf::byte_level::byte_to_char()) vocab[ch] = next++;
  for (auto& t : extra_vocab) vocab[t] = next++;
  return {{"added_tokens", nlohmann::json::array()},
          {"normalizer", nullptr},
          {"pre_tokenizer", {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"use_regex", true}}},
          {"post_processor", nullptr},
          {"decoder", {{"type", "ByteLevel"}}},
          {"model", {{"type", "BPE"}, {"vocab", vocab}, {"merges", merges}}}};
}

}  // namespace allm::test
