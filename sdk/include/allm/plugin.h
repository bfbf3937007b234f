/* allm plugin ABI — the one C entry point every plugin shared object exports.
 *
 * The host dlopen()s a plugin, looks up `allm_plugin_entry`, calls it (inside a
 * try/catch) and checks the returned descriptor's first three fields before it
 * reads anything else. See docs/plugin-abi.md for the full contract. */
#ifndef ALLM_PLUGIN_H
#define ALLM_PLUGIN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Bump MAJOR on any incompatible change of the descriptor or of an SDK
 * interface crossing the boundary; bump MINOR when fields are appended. */
#define ALLM_ABI_MAJOR 4
#define ALLM_ABI_MINOR 3

/* Name of the exported entry symbol. */
#define ALLM_PLUGIN_ENTRY_SYMBOL "allm_plugin_entry"

typedef enum allm_component_kind {
  ALLM_KIND_PROVIDER = 1,
  ALLM_KIND_ARCHITECTURE = 2,
  ALLM_KIND_TOKENIZER = 3,
  ALLM_KIND_MEDIA_HANDLER = 4,
  ALLM_KIND_BACKEND = 5, /* appended in ABI 4.1 */
  ALLM_KIND_CHECKPOINT_LOADER = 6 /* appended in ABI 4.2 */
} allm_component_kind;

/* One thing a plugin registers. `impl` points at a C++ object of the SDK
 * interface matching `kind` (allm::ProviderFactory, allm::ArchitectureFactory,
 * allm::TokenizerFactory, allm::MediaHandler, allm::BackendFactory,
 * allm::CheckpointLoader); it must outlive the process (plugins are never
 * unloaded). A backend's `score` is its score when usable;
 * BackendFactory::probe() says whether it is, here. */
typedef struct allm_component {
  uint32_t kind;        /* allm_component_kind */
  const char* name;     /* e.g. "qwen3" for an architecture, "hf" for a tokenizer */
  int32_t score;        /* 0 = cannot run on this machine; higher wins among equals */
  void* impl;
} allm_component;

typedef struct allm_plugin_descriptor {
  /* --- checked first, never moved --- */
  uint32_t abi_major;
  uint32_t abi_minor;
  uint32_t struct_size;     /* sizeof(allm_plugin_descriptor) as the plugin saw it */
  /* --- identity --- */
  const char* name;
  const char* version;
  const char* description;
  const char* sdk_version;  /* ALLM_SDK_VERSION the plugin was compiled against */
  const char* toolchain;    /* ALLM_TOOLCHAIN_ID: compiler family + C++ library ABI */
  /* --- what it registers --- */
  uint32_t component_count;
  const allm_component* components;
} allm_plugin_descriptor;

typedef const allm_plugin_descriptor* (*allm_plugin_entry_fn)(void);

#ifdef __cplusplus
}
#endif

#endif /* ALLM_PLUGIN_H */
