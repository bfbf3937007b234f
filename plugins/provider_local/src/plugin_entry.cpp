// Plugin entry: registers the native engine as provider "local".
// local_provider.hpp comes first: allm/version.hpp detects the C++ library
// ABI from macros that only a standard header defines.
#include "local_provider.hpp"

#include "allm/plugin.hpp"

namespace {
allm::local::LocalProviderFactory factory;
const allm::Component components[] = {allm::provider_component("local", 100, factory)};
}  // namespace

ALLM_DEFINE_PLUGIN("provider-local", "1.0.0", "The native engine as provider 'local'", components)
