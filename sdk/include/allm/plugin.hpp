#pragma once
// C++ side of the plugin ABI: the macro a plugin uses to export its descriptor.
//
//   static MyTokenizerFactory factory;
//   static const allm_component components[] = {
//       {ALLM_KIND_TOKENIZER, "hf", 100, &factory}};
//   ALLM_DEFINE_PLUGIN("tokenizer-hf", "1.0.0", "Hugging Face tokenizer.json", components)
#include "allm/plugin.h"
#include "allm/version.hpp"

#define ALLM_PLUGIN_EXPORT extern "C" __attribute__((visibility("default")))
#define ALLM_PLUGIN_STR2(x) #x
#define ALLM_PLUGIN_STR(x) ALLM_PLUGIN_STR2(x)

// Besides the entry point, the macro stores the plugin's identity as plain text
// in an ELF section named ".allm_plugin", so tools can read it without loading
// (running) the plugin: `allm plugins inspect FILE`.
#define ALLM_PLUGIN_METADATA_SECTION ".allm_plugin"

#define ALLM_DEFINE_PLUGIN(NAME, VERSION, DESCRIPTION, COMPONENTS)                            \
  extern "C" __attribute__((used, section(ALLM_PLUGIN_METADATA_SECTION)))                    \
  const char allm_plugin_metadata[] = "name=" NAME "\n"                                      \
                                      "version=" VERSION "\n"                                \
                                      "description=" DESCRIPTION "\n"                        \
                                      "sdk_version=" ALLM_SDK_VERSION "\n"                   \
                                      "toolchain=" ALLM_TOOLCHAIN_ID "\n"                    \
                                      "abi=" ALLM_PLUGIN_STR(ALLM_ABI_MAJOR) "." ALLM_PLUGIN_STR( \
                                          ALLM_ABI_MINOR) "\n";                              \
  ALLM_PLUGIN_EXPORT const allm_plugin_descriptor* allm_plugin_entry(void) {                 \
    static const allm_plugin_descriptor descriptor = {                                       \
        ALLM_ABI_MAJOR,                                                                      \
        ALLM_ABI_MINOR,                                                                      \
        static_cast<uint32_t>(sizeof(allm_plugin_descriptor)),                               \
        NAME,                                                                                \
        VERSION,                                                                             \
        DESCRIPTION,                                                                         \
        ALLM_SDK_VERSION,                                                                    \
        ALLM_TOOLCHAIN_ID,                                                                   \
        static_cast<uint32_t>(sizeof(COMPONENTS) / sizeof(COMPONENTS[0])),                   \
        COMPONENTS};                                                                         \
    return &descriptor;                                                                      \
  }
