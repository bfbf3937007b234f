// Compiled by typed_registration_test.sh once per REGISTER_* variant: the
// correct registration must compile, every wrong one must not.
#include <string>

#include "allm/media.hpp"
#include "allm/plugin.hpp"

namespace {

struct PlainStruct {  // what examples/hello_plugin once registered as a media handler
  const char* extension = ".hello";
};

class Handler final : public allm::MediaHandler {
 public:
  std::string describe() const override { return "test"; }
  allm::MediaKind kind() const override { return allm::MediaKind::text; }
  int score(const std::filesystem::path&, std::span<const uint8_t>) const override { return 0; }
  allm::MediaContent load(const std::filesystem::path&, std::span<const uint8_t>) const override { return {}; }
};

#if defined(REGISTER_PLAIN_STRUCT)
PlainStruct impl;
const allm::Component components[] = {allm::media_handler_component("x", 10, impl)};
#elif defined(REGISTER_RAW_TABLE)
PlainStruct impl;
const allm_component components[] = {{ALLM_KIND_MEDIA_HANDLER, "x", 10, &impl}};
#elif defined(REGISTER_WRONG_KIND)
Handler impl;
const allm::Component components[] = {allm::tokenizer_component("x", 10, impl)};
#else
Handler impl;
const allm::Component components[] = {allm::media_handler_component("x", 10, impl)};
#endif

}  // namespace

ALLM_DEFINE_PLUGIN("typed-registration", "1.0", "compile check", components)
