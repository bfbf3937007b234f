#include "remote_settings.hpp"

#include <cstdlib>

#include "allm/error.hpp"

namespace allm::remote {

namespace {

std::string env(const std::string& name) {
  if (name.empty()) return "";
  const char* v = std::getenv(name.c_str());
  return v ? v : "";
}

// The first of options[key], section[key] that is present, type-checked.
const nlohmann::json* pick(const nlohmann::json& options, const nlohmann::json& section, const std::string& key,
                           const std::string& section_name, bool (nlohmann::json::*is)() const noexcept,
                           const char* type) {
  if (options.contains(key)) {
    if (!(options[key].*is)()) throw ConfigError("provider option '" + key + "' must be " + type);
    return &options[key];
  }
  if (section.is_object() && section.contains(key)) {
    if (!(section[key].*is)()) throw ConfigError(section_name + "." + key + " must be " + type);
    return &section[key];
  }
  return nullptr;
}

// OLLAMA_HOST may be "host", "host:port" or a URL, as the ollama CLI accepts.
std::string normalise_url(std::string url, const std::string& provider) {
  while (!url.empty() && url.back() == '/') url.pop_back();
  if (provider == "ollama" && url.find("://") == std::string::npos) {
    url = "http://" + url;
    const size_t host = url.find("://") + 3;
    if (url.find(':', host) == std::string::npos) url += ":11434";
  }
  if (url.rfind("http://", 0) != 0 && url.rfind("https://", 0) != 0)
    throw ConfigError(provider + ": base URL '" + url + "' must start with http:// or https://");
  return url;
}

}  // namespace

RemoteSettings resolve_settings(const ProviderDefaults& d, const nlohmann::json& options) {
  if (!options.is_object()) throw InvalidArgumentError(d.name + ": provider options must be a JSON object");
  const std::string section_name = "providers." + d.name;
  nlohmann::json section = nlohmann::json::object();
  if (options.contains("config") && options["config"].is_object()) {
    const auto& cfg = options["config"];
    if (cfg.contains("providers") && cfg["providers"].is_object() && cfg["providers"].contains(d.name))
      section = cfg["providers"][d.name];
  }
  RemoteSettings s;
  s.provider = d.name;
  if (options.contains("model")) {
    if (!options["model"].is_string()) throw InvalidArgumentError(d.name + ": option 'model' must be a string");
    s.model = options["model"].get<std::string>();
  }

  std::string base;
  if (auto* v = pick(options, section, "base_url", section_name, &nlohmann::json::is_string, "a string"))
    base = v->get<std::string>();
  if (base.empty()) base = env(d.base_url_env);
  if (base.empty()) base = d.base_url;
  s.base_url = normalise_url(base, d.name);

  if (options.contains("api_key") && options["api_key"].is_string()) {
    s.api_key = options["api_key"].get<std::string>();
    s.api_key_source = "options";
  }
  if (s.api_key.empty())
    if (auto* v = pick(nlohmann::json::object(), section, "api_key", section_name, &nlohmann::json::is_string,
                       "a string");
        v && !v->get<std::string>().empty()) {
      s.api_key = v->get<std::string>();
      s.api_key_source = "config " + section_name + ".api_key";
    }
  std::string key_env = d.api_key_env;
  if (auto* v = pick(options, section, "api_key_env", section_name, &nlohmann::json::is_string, "a string");
      v && !v->get<std::string>().empty())
    key_env = v->get<std::string>();
  if (s.api_key.empty() && !env(key_env).empty()) {
    s.api_key = env(key_env);
    s.api_key_source = "$" + key_env;
  }
  if (s.api_key.empty() && d.key_required_by_default && s.base_url == d.base_url)
    throw ConfigError(d.name + ": no API key for " + s.base_url + ": set " +
                      (key_env.empty() ? std::string("one") : "$" + key_env) + " or " + section_name + ".api_key");

  if (auto* v = pick(options, section, "headers", section_name, &nlohmann::json::is_array, "a list of \"Name: value\" strings"))
    for (size_t i = 0; i < v->size(); ++i) {
      const auto& h = (*v)[i];
      if (!h.is_string() || h.get<std::string>().find(':') == std::string::npos)
        throw ConfigError(section_name + ".headers[" + std::to_string(i) + "] must be a \"Name: value\" string");
      s.headers.push_back(h.get<std::string>());
    }
  if (auto* v = pick(options, section, "timeout_s", section_name, &nlohmann::json::is_number, "a number")) {
    s.timeout_s = v->get<double>();
    if (!(s.timeout_s > 0)) throw ConfigError(section_name + ".timeout_s must be > 0");
  }
  if (auto* v = pick(options, section, "max_retries", section_name, &nlohmann::json::is_number_integer, "an integer")) {
    s.max_retries = v->get<int>();
    if (s.max_retries < 0 || s.max_retries > 20) throw ConfigError(section_name + ".max_retries must be in [0, 20]");
  }
  return s;
}

}  // namespace allm::remote
