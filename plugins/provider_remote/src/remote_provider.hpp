#pragma once
// A Provider over a remote HTTP API: every generation is one streamed request
// (blocking calls collect the stream, so Ctrl-C cancels those too), retried
// with backoff on 429/5xx/connection resets before the first delta, within a
// total deadline. Failures are typed errors naming provider, URL, HTTP status
// and the server's message.
#include <memory>
#include <string>
#include <vector>

#include "allm/provider.hpp"
#include "api_dialect.hpp"
#include "remote_settings.hpp"

namespace allm::remote {

class RemoteProvider : public Provider {
 public:
  RemoteProvider(const ApiDialect& dialect, RemoteSettings settings, MediaLimits limits);

  Capabilities capabilities() const override;
  // The endpoint's model ids (GET /v1/models or /api/tags), with the same
  // retries and error reporting as a generation.
  std::vector<std::string> list_models(const CancellationToken& cancel = {}) const;
  const RemoteSettings& settings() const { return settings_; }

 protected:
  GenerateResponse do_generate(const PreparedRequest& request, const StreamCallback& on_delta,
                               const CancellationToken& cancel) override;

 private:
  const ApiDialect& dialect_;
  RemoteSettings settings_;
  nlohmann::json probed_models_;  // set when created with "probe": true
  friend class RemoteProviderFactory;
};

class RemoteProviderFactory : public ProviderFactory {
 public:
  explicit RemoteProviderFactory(const ApiDialect& (*dialect)()) : dialect_(dialect) {}
  // Options: "model", "config" (providers.<name> is read from it), and the
  // same keys as that section to override it: base_url, api_key, api_key_env,
  // headers, timeout_s, max_retries; "probe": true lists the endpoint's models
  // into capabilities().model_info.models.
  std::shared_ptr<Provider> create(const nlohmann::json& options) const override;
  std::string description() const override;

 private:
  const ApiDialect& (*dialect_)();
};

}  // namespace allm::remote
