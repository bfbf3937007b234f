#pragma once
// What the CLI shows about a remote provider (allm info, allm plugins info,
// allm models list --remote): configured or not and why, base URL, where the
// key came from (never the key), the parameters it maps and, when probing, the
// endpoint's models.
#include <string>

#include <nlohmann/json.hpp>

#include "allm/error.hpp"
#include "allm/provider.hpp"
#include "allm/registry.hpp"
#include "context.hpp"

namespace allm::cli {

// {"configured": true, "base_url", "api_key", "capabilities", ["models"]} or
// {"configured": false, "reason"}; with `probe`, a request lists the models
// (a failure there is {"configured": true, ..., "error"}).
inline nlohmann::json remote_provider_status(const std::string& name, bool probe) {
  ProviderFactory* factory = Registry::instance().provider(name);
  if (!factory) return {{"configured", false}, {"reason", "no provider plugin named '" + name + "'"}};
  std::shared_ptr<Provider> provider;
  try {
    provider = factory->create({{"config", host().config().merged()}});
  } catch (const Error& e) {
    return {{"configured", false}, {"reason", e.what()}};
  }
  const Capabilities caps = provider->capabilities();
  nlohmann::json out = {{"configured", true},
                        {"base_url", caps.model_info.value("base_url", "")},
                        {"api_key", caps.model_info.value("api_key", "")},
                        {"capabilities", caps.to_json()}};
  if (probe) {
    try {
      auto probed = factory->create({{"config", host().config().merged()}, {"probe", true}});
      out["models"] = probed->capabilities().model_info.value("models", nlohmann::json::array());
    } catch (const Error& e) {
      out["error"] = e.what();
    }
  }
  return out;
}

}  // namespace allm::cli
