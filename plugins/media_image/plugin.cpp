// Plugin entry: registers the PNG/JPEG media handler as "image".
#include "allm/plugin.hpp"
#include "image_handler.hpp"

static allm::media::ImageHandler image_handler;
static const allm::Component components[] = {allm::media_handler_component("image", 100, image_handler)};
ALLM_DEFINE_PLUGIN("media-image", "1.0.0", "Attach PNG and JPEG images (decoded to pixels)", components)
