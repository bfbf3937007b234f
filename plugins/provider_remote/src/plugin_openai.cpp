// Plugin entry: registers the remote openai API as provider "openai".
// remote_provider.hpp comes first: allm/version.hpp detects the C++ library
// ABI from macros that only a standard header defines.
#include "remote_provider.hpp"

#include "allm/plugin.hpp"

namespace {
allm::remote::RemoteProviderFactory factory(&allm::remote::openai_dialect);
const allm::Component components[] = {allm::provider_component("openai", 100, factory)};
}  // namespace

ALLM_DEFINE_PLUGIN("provider-openai", "1.0.0", "The remote openai API as provider 'openai'", components)
