// A minimal media-handler plugin: treats `.hello` files as text.
// Shows the whole plugin contract: implement an SDK interface, list it in a
// component table, export the descriptor with ALLM_DEFINE_PLUGIN.
#include "allm/plugin.hpp"

namespace {

// The implementation object the host receives (here a plain struct: the
// media-handler interface of allm/media.hpp is what a real handler implements).
struct HelloHandler {
  const char* extension = ".hello";
};

HelloHandler handler;

const allm_component components[] = {
    {ALLM_KIND_MEDIA_HANDLER, "hello", /*score=*/10, &handler},
};

}  // namespace

ALLM_DEFINE_PLUGIN("hello", "1.0.0", "Example plugin built out of tree against the allm SDK", components)
