#pragma once
// Where a remote provider connects and how: base URL, API key, extra headers,
// deadline and retries, from (highest first) the factory options, the config's
// providers.<name> section, the ecosystem's environment variables, defaults.
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace allm::remote {

struct ProviderDefaults {
  std::string name;              // "openai"
  std::string base_url;          // used when nothing else names one
  std::string base_url_env;      // "OPENAI_BASE_URL"
  std::string api_key_env;       // "OPENAI_API_KEY" ("" when the API has no keys)
  bool key_required_by_default;  // the default base URL refuses requests without a key
};

struct RemoteSettings {
  std::string provider;
  std::string base_url;  // no trailing slash
  std::string api_key;   // never logged
  std::string api_key_source;  // "options", "config providers.openai.api_key", "$OPENAI_API_KEY", ""
  std::vector<std::string> headers;  // "Name: value"
  double timeout_s = 600;
  int max_retries = 2;
  std::string model;
};

// Throws ConfigError naming the key for wrongly typed values.
RemoteSettings resolve_settings(const ProviderDefaults& defaults, const nlohmann::json& options);

}  // namespace allm::remote
