// The hub settings huggingface_hub reads from the environment, read the same way.
#include <algorithm>
#include <cstdlib>
#include <fstream>

#include "allm/hub/pull.hpp"
#include "allm/model_loader.hpp"

namespace allm::hub {

namespace {

std::optional<std::string> env(const char* name) {
  const char* v = std::getenv(name);
  if (!v || !*v) return std::nullopt;
  return std::string(v);
}

std::string trim(std::string s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.pop_back();
  size_t a = 0;
  while (a < s.size() && std::isspace(static_cast<unsigned char>(s[a]))) ++a;
  return s.substr(a);
}

bool truthy(const std::string& v) {
  std::string l = v;
  std::transform(l.begin(), l.end(), l.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return l == "1" || l == "true" || l == "yes" || l == "on";
}

std::filesystem::path hf_home() {
  if (auto v = env("HF_HOME")) return *v;
  if (auto v = env("XDG_CACHE_HOME")) return std::filesystem::path(*v) / "huggingface";
  if (auto v = env("HOME")) return std::filesystem::path(*v) / ".cache" / "huggingface";
  return ".cache/huggingface";
}

}  // namespace

HubSettings settings_from_environment() {
  HubSettings s;
  s.endpoint = env("HF_ENDPOINT").value_or("https://huggingface.co");
  while (!s.endpoint.empty() && s.endpoint.back() == '/') s.endpoint.pop_back();
  s.offline = truthy(env("HF_HUB_OFFLINE").value_or("")) || truthy(env("TRANSFORMERS_OFFLINE").value_or(""));
  s.cache_dir = hf_hub_cache_dir();
  if (auto t = env("HF_TOKEN")) {
    s.token = trim(*t);
    s.token_source = "$HF_TOKEN";
  } else if (auto t2 = env("HUGGING_FACE_HUB_TOKEN")) {
    s.token = trim(*t2);
    s.token_source = "$HUGGING_FACE_HUB_TOKEN";
  } else {
    const std::filesystem::path file = env("HF_TOKEN_PATH").value_or((hf_home() / "token").string());
    std::ifstream in(file);
    std::string line;
    if (in && std::getline(in, line) && !trim(line).empty()) {
      s.token = trim(line);
      s.token_source = file.string();
    }
  }
  if (s.token && s.token->empty()) s.token.reset();
  return s;
}

}  // namespace allm::hub
