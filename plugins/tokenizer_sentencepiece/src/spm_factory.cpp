#include "spm_factory.hpp"

#include <fstream>

#include <nlohmann/json.hpp>

#include "allm/error.hpp"
#include "allm/json_depth.hpp"
#include "spm_tokenizer.hpp"

namespace allm::spm {

namespace fs = std::filesystem;

namespace {

// A SentencePiece model is a serialized protobuf whose first field is the
// repeated `pieces` message (field 1, length-delimited: tag byte 0x0A).
bool looks_like_model(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  char tag = 0;
  return in.get(tag) && tag == 0x0A;
}

fs::path model_file_of(const fs::path& path) {
  std::error_code ec;
  return fs::is_directory(path, ec) ? path / "tokenizer.model" : path;
}

nlohmann::json read_config(const fs::path& file) {
  std::error_code ec;
  if (!fs::is_regular_file(file, ec)) return nullptr;
  std::ifstream in(file, std::ios::binary);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (std::string depth = json_depth_error(text); !depth.empty()) throw TokenizerError(file.string() + ": " + depth);
  try {
    return nlohmann::json::parse(text);
  } catch (const nlohmann::json::parse_error& e) {
    throw TokenizerError(file.string() + ": malformed JSON (" + e.what() + ")");
  }
}

}  // namespace

bool SpmTokenizerFactory::can_load(const fs::path& path) const {
  std::error_code ec;
  const fs::path file = model_file_of(path);
  return fs::is_regular_file(file, ec) && file.extension() == ".model" && looks_like_model(file);
}

std::unique_ptr<Tokenizer> SpmTokenizerFactory::load(const fs::path& path) const {
  const fs::path file = model_file_of(path);
  std::error_code ec;
  if (!fs::is_regular_file(file, ec))
    throw TokenizerError(path.string() + (fs::is_directory(path, ec) ? ": directory has no tokenizer.model"
                                                                      : ": no such file"));
  return std::make_unique<SpmTokenizer>(file, read_config(file.parent_path() / "tokenizer_config.json"));
}

std::unique_ptr<Tokenizer> SpmTokenizerFactory::load_json(const std::string&, const std::string& origin) const {
  throw UnsupportedError(origin + ": the sentencepiece tokenizer reads tokenizer.model files, not tokenizer.json");
}

}  // namespace allm::spm
