#pragma once
// What every subcommand can reach: the host (config + plugins) built from the
// common options.
#include "allm/host/host.hpp"

namespace allm::cli {

// The process's host. Plugins load on the first call to host().plugins().
host::Host& host();

}  // namespace allm::cli
