#pragma once
// Picking the tokenizer plugin for a model: every registered tokenizer
// factory is asked can_load(source); the one with the highest score among
// those that can wins (registration order breaks ties). No plugin name is
// hard-coded anywhere: a second tokenizer plugin (tokenizer.model through
// SentencePiece, ...) is used as soon as it is installed.
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "allm/registry.hpp"
#include "allm/tokenizer.hpp"

namespace allm {

// The registered tokenizer components whose factory can load `source`, best first.
std::vector<ComponentEntry> tokenizers_for(const std::filesystem::path& source);

// `source` (a model directory, a tokenizer file, a directory holding one)
// loaded by the best factory that can. PluginLoadError when no tokenizer
// plugin is registered; TokenizerError naming `source` and the registered
// tokenizers when none can load it.
std::unique_ptr<Tokenizer> load_tokenizer(const std::filesystem::path& source);

// Every registered tokenizer component, best first (score, then registration
// order). PluginLoadError when there is none.
std::vector<ComponentEntry> registered_tokenizers();

// "hf, sentencepiece": the names of `entries`, for error messages.
std::string tokenizer_names(const std::vector<ComponentEntry>& entries);

// (A checkpoint's tokenizer: load_checkpoint_tokenizer in allm/engine.hpp.)

}  // namespace allm
