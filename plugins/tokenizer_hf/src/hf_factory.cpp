#include "hf_factory.hpp"

#include <fstream>
#include <sstream>

#include "allm/error.hpp"
#include "allm/log.hpp"
#include "hf_tokenizer.hpp"

namespace allm::hf {

namespace fs = std::filesystem;

fs::path resolve_tokenizer_file(const fs::path& source) {
  std::error_code ec;
  if (fs::is_directory(source, ec)) {
    fs::path file = source / "tokenizer.json";
    if (!fs::is_regular_file(file, ec))
      throw TokenizerError(source.string() + ": directory has no tokenizer.json");
    return file;
  }
  if (!fs::exists(source, ec)) throw TokenizerError(source.string() + ": no such file or directory");
  return source;
}

static std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw IoError(path.string() + ": cannot open for reading");
  std::string data;
  in.seekg(0, std::ios::end);
  auto size = in.tellg();
  if (size > 0) {
    data.resize(static_cast<size_t>(size));
    in.seekg(0);
    in.read(data.data(), size);
  }
  if (!in) throw IoError(path.string() + ": read failed");
  return data;
}

nlohmann::json parse_json_document(const std::string& text, const std::string& origin) {
  try {
    return nlohmann::json::parse(text);
  } catch (const nlohmann::json::parse_error& e) {
    size_t byte = e.byte > 0 ? e.byte - 1 : 0;
    size_t line = 1, column = 1;
    for (size_t i = 0; i < byte && i < text.size(); ++i) {
      if (text[i] == '\n') {
        ++line;
        column = 1;
      } else {
        ++column;
      }
    }
    std::string what = e.what();
    // nlohmann's message repeats its own position prefix; keep the reason.
    auto colon = what.find("syntax error");
    throw TokenizerError(origin + ": malformed JSON at line " + std::to_string(line) + ", column " +
                         std::to_string(column) + " (byte " + std::to_string(byte) + "): " +
                         (colon == std::string::npos ? what : what.substr(colon)));
  }
}

bool HfTokenizerFactory::can_load(const fs::path& path) const {
  std::error_code ec;
  if (fs::is_directory(path, ec)) return fs::is_regular_file(path / "tokenizer.json", ec);
  return fs::is_regular_file(path, ec) && path.extension() == ".json";
}

std::unique_ptr<Tokenizer> HfTokenizerFactory::load(const fs::path& path) const {
  fs::path file = resolve_tokenizer_file(path);
  nlohmann::json doc = parse_json_document(read_file(file), file.string());
  nlohmann::json config;
  fs::path config_file = file.parent_path() / "tokenizer_config.json";
  std::error_code ec;
  if (fs::is_regular_file(config_file, ec)) {
    try {
      config = nlohmann::json::parse(read_file(config_file));
    } catch (const nlohmann::json::parse_error& e) {
      log().warn("{}: ignored (malformed JSON: {})", config_file.string(), e.what());
    }
  }
  return std::make_unique<HfTokenizer>(doc, file.string(), config);
}

std::unique_ptr<Tokenizer> HfTokenizerFactory::load_json(const std::string& tokenizer_json,
                                                         const std::string& origin) const {
  nlohmann::json doc = parse_json_document(tokenizer_json, origin);
  return std::make_unique<HfTokenizer>(doc, origin, nlohmann::json());
}

}  // namespace allm::hf
