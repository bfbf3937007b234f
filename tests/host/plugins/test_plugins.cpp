// Plugins used by the host tests. One source, several shared objects: the
// TEST_PLUGIN_* macro picks which (good or broken) descriptor this build exports.
#include <stdexcept>

#include "allm/plugin.hpp"

namespace {
struct Dummy {
  int value = 42;
};
[[maybe_unused]] Dummy impl;  // unused by the variants with broken descriptors
}  // namespace

#if defined(TEST_PLUGIN_GOOD_A)
static const allm_component components[] = {{ALLM_KIND_TOKENIZER, "shared-name", 10, &impl},
                                            {ALLM_KIND_ARCHITECTURE, "test-arch-a", 10, &impl}};
ALLM_DEFINE_PLUGIN_UNCHECKED("test-good-a", "1.0.0", "A well-formed test plugin", components)

#elif defined(TEST_PLUGIN_GOOD_B)
static const allm_component components[] = {{ALLM_KIND_TOKENIZER, "shared-name", 50, &impl},
                                            {ALLM_KIND_MEDIA_HANDLER, "test-media-b", 10, &impl},
                                            {ALLM_KIND_PROVIDER, "test-cannot-run", 0, &impl}};
ALLM_DEFINE_PLUGIN_UNCHECKED("test-good-b", "2.0.0", "Registers a name test-good-a also registers", components)

#elif defined(TEST_PLUGIN_ABI_MAJOR)
static const allm_component components[] = {{ALLM_KIND_TOKENIZER, "abi", 10, &impl}};
ALLM_PLUGIN_EXPORT const allm_plugin_descriptor* allm_plugin_entry(void) {
  static const allm_plugin_descriptor d = {ALLM_ABI_MAJOR + 1, 0, sizeof(allm_plugin_descriptor), "test-abi-major",
                                           "1.0", "", ALLM_SDK_VERSION, ALLM_TOOLCHAIN_ID, 1, components};
  return &d;
}

#elif defined(TEST_PLUGIN_ABI_MINOR)
static const allm_component components[] = {{ALLM_KIND_TOKENIZER, "abi", 10, &impl}};
ALLM_PLUGIN_EXPORT const allm_plugin_descriptor* allm_plugin_entry(void) {
  static const allm_plugin_descriptor d = {ALLM_ABI_MAJOR, ALLM_ABI_MINOR + 1, sizeof(allm_plugin_descriptor),
                                           "test-abi-minor", "1.0", "", ALLM_SDK_VERSION, ALLM_TOOLCHAIN_ID, 1,
                                           components};
  return &d;
}

#elif defined(TEST_PLUGIN_THROWS)
ALLM_PLUGIN_EXPORT const allm_plugin_descriptor* allm_plugin_entry(void) {
  throw std::runtime_error("plugin exploded on purpose");
}

#elif defined(TEST_PLUGIN_NULL)
ALLM_PLUGIN_EXPORT const allm_plugin_descriptor* allm_plugin_entry(void) { return nullptr; }

#elif defined(TEST_PLUGIN_NO_NAME)
static const allm_component components[] = {{ALLM_KIND_TOKENIZER, "x", 10, &impl}};
ALLM_PLUGIN_EXPORT const allm_plugin_descriptor* allm_plugin_entry(void) {
  static const allm_plugin_descriptor d = {ALLM_ABI_MAJOR, ALLM_ABI_MINOR, sizeof(allm_plugin_descriptor), nullptr,
                                           "1.0", "", ALLM_SDK_VERSION, ALLM_TOOLCHAIN_ID, 1, components};
  return &d;
}

#elif defined(TEST_PLUGIN_NO_IMPL)
static const allm_component components[] = {{ALLM_KIND_TOKENIZER, "no-impl", 10, nullptr}};
ALLM_DEFINE_PLUGIN_UNCHECKED("test-no-impl", "1.0", "", components)

#elif defined(TEST_PLUGIN_SHORT_STRUCT)
static const allm_component components[] = {{ALLM_KIND_TOKENIZER, "short", 10, &impl}};
ALLM_PLUGIN_EXPORT const allm_plugin_descriptor* allm_plugin_entry(void) {
  static const allm_plugin_descriptor d = {ALLM_ABI_MAJOR, ALLM_ABI_MINOR, 12, "test-short", "1.0", "",
                                           ALLM_SDK_VERSION, ALLM_TOOLCHAIN_ID, 1, components};
  return &d;
}

#elif defined(TEST_PLUGIN_NO_ENTRY)
extern "C" __attribute__((visibility("default"))) int some_other_symbol(void) { return impl.value; }

#else
#error "define one TEST_PLUGIN_* macro"
#endif
