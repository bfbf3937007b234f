// Plugin entry: registers the remote ollama API as provider "ollama".
// remote_provider.hpp comes first: allm/version.hpp detects the C++ library
// ABI from macros that only a standard header defines.
#include "remote_provider.hpp"

#include "allm/plugin.hpp"

namespace {
allm::remote::RemoteProviderFactory factory(&allm::remote::ollama_dialect);
const allm::Component components[] = {allm::provider_component("ollama", 100, factory)};
}  // namespace

ALLM_DEFINE_PLUGIN("provider-ollama", "1.0.0", "The remote ollama API as provider 'ollama'", components)
