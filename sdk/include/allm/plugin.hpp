#pragma once
// C++ side of the plugin ABI: typed component helpers and the macro a plugin
// uses to export its descriptor.
//
//   static MyTokenizerFactory factory;   // derives from allm::TokenizerFactory
//   static const allm::Component components[] = {allm::tokenizer_component("hf", 100, factory)};
//   ALLM_DEFINE_PLUGIN("tokenizer-hf", "1.0.0", "Hugging Face tokenizer.json", components)
//
// The helpers take a reference to the SDK interface of their kind, so an
// object that does not implement it (a plain struct registered as a media
// handler, a tokenizer registered as a provider) is a compile error instead of
// a crash the first time the host calls it.
#include <array>
#include <cstddef>

#include "allm/plugin.h"
#include "allm/version.hpp"

namespace allm {

class ProviderFactory;
class ArchitectureFactory;
class TokenizerFactory;
class MediaHandler;
class BackendFactory;
class CheckpointLoader;

// One row of a plugin's component table; made only by the *_component helpers.
class Component {
 public:
  constexpr const allm_component& entry() const { return entry_; }

 private:
  constexpr Component(allm_component_kind kind, const char* name, int score, void* impl)
      : entry_{static_cast<uint32_t>(kind), name, score, impl} {}
  allm_component entry_;

  friend constexpr Component provider_component(const char*, int, ProviderFactory&);
  friend constexpr Component architecture_component(const char*, int, ArchitectureFactory&);
  friend constexpr Component tokenizer_component(const char*, int, TokenizerFactory&);
  friend constexpr Component media_handler_component(const char*, int, MediaHandler&);
  friend constexpr Component backend_component(const char*, int, BackendFactory&);
  friend constexpr Component checkpoint_loader_component(const char*, int, CheckpointLoader&);
};

// `impl` must live as long as the process (a namespace-scope object).
// The conversion to the interface happens here, at the call, so the pointer
// the host receives is the interface's even under multiple inheritance.
constexpr Component provider_component(const char* name, int score, ProviderFactory& impl) {
  return {ALLM_KIND_PROVIDER, name, score, static_cast<void*>(&impl)};
}
constexpr Component architecture_component(const char* name, int score, ArchitectureFactory& impl) {
  return {ALLM_KIND_ARCHITECTURE, name, score, static_cast<void*>(&impl)};
}
constexpr Component tokenizer_component(const char* name, int score, TokenizerFactory& impl) {
  return {ALLM_KIND_TOKENIZER, name, score, static_cast<void*>(&impl)};
}
constexpr Component media_handler_component(const char* name, int score, MediaHandler& impl) {
  return {ALLM_KIND_MEDIA_HANDLER, name, score, static_cast<void*>(&impl)};
}
// A compute backend (allm/backend.hpp); `score` is its score when its probe finds it usable.
constexpr Component backend_component(const char* name, int score, BackendFactory& impl) {
  return {ALLM_KIND_BACKEND, name, score, static_cast<void*>(&impl)};
}
// A checkpoint loader's score orders the loaders load_checkpoint() asks (higher first).
constexpr Component checkpoint_loader_component(const char* name, int score, CheckpointLoader& impl) {
  return {ALLM_KIND_CHECKPOINT_LOADER, name, score, static_cast<void*>(&impl)};
}

namespace plugin_detail {

template <size_t N>
std::array<allm_component, N> c_table(const Component (&typed)[N]) {
  std::array<allm_component, N> out{};
  for (size_t i = 0; i < N; ++i) out[i] = typed[i].entry();
  return out;
}

template <size_t N>
constexpr bool always_false = false;

template <size_t N>
std::array<allm_component, N> c_table(const allm_component (&)[N]) {
  static_assert(always_false<N>,
                "ALLM_DEFINE_PLUGIN takes a table of allm::Component built with the typed helpers "
                "(allm::media_handler_component, tokenizer_component, architecture_component, "
                "provider_component, backend_component, checkpoint_loader_component); a raw allm_component table is unchecked: "
                "use ALLM_DEFINE_PLUGIN_UNCHECKED only if you really mean it");
  return {};
}

template <size_t N>
std::array<allm_component, N> unchecked_table(const allm_component (&raw)[N]) {
  std::array<allm_component, N> out{};
  for (size_t i = 0; i < N; ++i) out[i] = raw[i];
  return out;
}

}  // namespace plugin_detail
}  // namespace allm

#define ALLM_PLUGIN_EXPORT extern "C" __attribute__((visibility("default")))
#define ALLM_PLUGIN_STR2(x) #x
#define ALLM_PLUGIN_STR(x) ALLM_PLUGIN_STR2(x)

// Besides the entry point, the macro stores the plugin's identity as plain text
// in an ELF section named ".allm_plugin", so tools can read it without loading
// (running) the plugin: `allm plugins inspect FILE`.
#define ALLM_PLUGIN_METADATA_SECTION ".allm_plugin"

// A plugin's table of typed components (see the helpers above).
#define ALLM_DEFINE_PLUGIN(NAME, VERSION, DESCRIPTION, COMPONENTS) \
  ALLM_DEFINE_PLUGIN_WITH_TABLE(NAME, VERSION, DESCRIPTION, ::allm::plugin_detail::c_table(COMPONENTS))

// A raw C table whose `impl` pointers nobody checks: for tests of the loader's
// own checks (a null impl, ...). A wrong `impl` type crashes the host later.
#define ALLM_DEFINE_PLUGIN_UNCHECKED(NAME, VERSION, DESCRIPTION, COMPONENTS) \
  ALLM_DEFINE_PLUGIN_WITH_TABLE(NAME, VERSION, DESCRIPTION, ::allm::plugin_detail::unchecked_table(COMPONENTS))

#define ALLM_DEFINE_PLUGIN_WITH_TABLE(NAME, VERSION, DESCRIPTION, TABLE)                          \
  extern "C" __attribute__((used, section(ALLM_PLUGIN_METADATA_SECTION)))                    \
  const char allm_plugin_metadata[] = "name=" NAME "\n"                                      \
                                      "version=" VERSION "\n"                                \
                                      "description=" DESCRIPTION "\n"                        \
                                      "sdk_version=" ALLM_SDK_VERSION "\n"                   \
                                      "toolchain=" ALLM_TOOLCHAIN_ID "\n"                    \
                                      "abi=" ALLM_PLUGIN_STR(ALLM_ABI_MAJOR) "." ALLM_PLUGIN_STR( \
                                          ALLM_ABI_MINOR) "\n";                              \
  ALLM_PLUGIN_EXPORT const allm_plugin_descriptor* allm_plugin_entry(void) {                 \
    static const auto table = TABLE;                                                          \
    static const allm_plugin_descriptor descriptor = {                                       \
        ALLM_ABI_MAJOR,                                                                      \
        ALLM_ABI_MINOR,                                                                      \
        static_cast<uint32_t>(sizeof(allm_plugin_descriptor)),                               \
        NAME,                                                                                \
        VERSION,                                                                             \
        DESCRIPTION,                                                                         \
        ALLM_SDK_VERSION,                                                                    \
        ALLM_TOOLCHAIN_ID,                                                                   \
        static_cast<uint32_t>(table.size()),                                                 \
        table.data()};                                                                         \
    return &descriptor;                                                                      \
  }
