#pragma once
// Shared by `allm tokenize` and `allm detokenize`: SOURCE (a model directory,
// a tokenizer.json, or a directory holding one) -> a tokenizer, through the
// "hf" tokenizer component of the plugin registry.
#include <memory>
#include <string>

#include "allm/error.hpp"
#include "allm/registry.hpp"
#include "allm/tokenizer.hpp"
#include "context.hpp"

namespace allm::cli {

inline std::unique_ptr<Tokenizer> load_tokenizer(const std::string& source) {
  host().plugins();
  TokenizerFactory* factory = Registry::instance().tokenizer("hf");
  if (!factory)
    throw PluginLoadError(
        "no tokenizer component 'hf' is registered: the tokenizer_hf plugin was not found or failed to load "
        "(see 'allm plugins list')");
  return factory->load(source);
}

}  // namespace allm::cli
