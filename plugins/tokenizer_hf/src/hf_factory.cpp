#include "hf_factory.hpp"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "allm/error.hpp"
#include "allm/json_depth.hpp"
#include "allm/log.hpp"
#include "hf_tokenizer.hpp"
#include "tokenizer_json.hpp"

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
  if (!in) throw IoError(path.string() + ": cannot open for reading: " + std::strerror(errno));
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

bool HfTokenizerFactory::can_load(const fs::path& path) const {
  std::error_code ec;
  if (fs::is_directory(path, ec)) return fs::is_regular_file(path / "tokenizer.json", ec);
  return fs::is_regular_file(path, ec) && path.extension() == ".json";
}

std::unique_ptr<Tokenizer> HfTokenizerFactory::load(const fs::path& path) const {
  fs::path file = resolve_tokenizer_file(path);
  TokenizerJson doc = read_tokenizer_json(read_file(file), file.string());
  nlohmann::json config;
  fs::path config_file = file.parent_path() / "tokenizer_config.json";
  std::error_code ec;
  if (fs::is_regular_file(config_file, ec)) {
    try {
      std::string text = read_file(config_file);
      if (std::string depth = json_depth_error(text); !depth.empty())
        throw TokenizerError(config_file.string() + ": " + depth);
      config = nlohmann::json::parse(text);
    } catch (const nlohmann::json::parse_error& e) {
      log().warn("{}: ignored (malformed JSON: {})", config_file.string(), e.what());
    }
  }
  return std::make_unique<HfTokenizer>(doc, file.string(), config);
}

std::unique_ptr<Tokenizer> HfTokenizerFactory::load_json(const std::string& tokenizer_json,
                                                         const std::string& origin) const {
  TokenizerJson doc = read_tokenizer_json(tokenizer_json, origin);
  return std::make_unique<HfTokenizer>(doc, origin, nlohmann::json());
}

}  // namespace allm::hf
