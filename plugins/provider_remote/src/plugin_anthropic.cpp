// Plugin entry: registers the remote anthropic API as provider "anthropic".
// remote_provider.hpp comes first: allm/version.hpp detects the C++ library
// ABI from macros that only a standard header defines.
#include "remote_provider.hpp"

#include "allm/plugin.hpp"

namespace {
allm::remote::RemoteProviderFactory factory(&allm::remote::anthropic_dialect);
const allm::Component components[] = {allm::provider_component("anthropic", 100, factory)};
}  // namespace

ALLM_DEFINE_PLUGIN("provider-anthropic", "1.0.0", "The remote anthropic API as provider 'anthropic'", components)
