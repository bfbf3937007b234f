#pragma once
// Shared by the remote provider tests: creating a provider of each API for a
// base URL, and the base URL each API expects for a server root.
#include <string>

#include <nlohmann/json.hpp>

#include "allm/provider.hpp"
#include "api_dialect.hpp"
#include "http_call.hpp"
#include "remote_provider.hpp"

namespace allm::test {

inline const remote::ApiDialect& (*dialect_named(const std::string& name))() {
  if (name == "openai") return &remote::openai_dialect;
  if (name == "anthropic") return &remote::anthropic_dialect;
  return &remote::ollama_dialect;
}

// OpenAI base URLs end in /v1 (as OPENAI_BASE_URL does); the others are the root.
inline std::string base_url_for(const std::string& provider, const std::string& root) {
  return provider == "openai" ? root + "/v1" : root;
}

inline std::shared_ptr<Provider> make_remote(const std::string& provider, nlohmann::json options) {
  remote::RemoteProviderFactory factory(dialect_named(provider));
  if (!options.contains("api_key")) options["api_key"] = "test-key";
  return factory.create(options);
}

inline nlohmann::json http_get_json(const std::string& url) {
  remote::HttpRequest req;
  req.method = "GET";
  req.url = url;
  req.deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  const auto r = remote::http_perform(req, {});
  return nlohmann::json::parse(r.body);
}

}  // namespace allm::test
