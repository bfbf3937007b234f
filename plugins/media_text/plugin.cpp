// Plugin entry: registers the text media handler as "text".
#include "allm/plugin.hpp"
#include "text_handler.hpp"

static allm::media::TextHandler text_handler;
static const allm::Component components[] = {allm::media_handler_component("text", 100, text_handler)};
ALLM_DEFINE_PLUGIN("media-text", "1.0.0", "Attach text and source-code files as prompt text", components)
