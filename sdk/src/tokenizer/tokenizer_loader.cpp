#include "allm/tokenizer_loader.hpp"

#include <algorithm>

#include "allm/error.hpp"
#include "allm/log.hpp"

namespace allm {

namespace fs = std::filesystem;

std::vector<ComponentEntry> registered_tokenizers() {
  std::vector<ComponentEntry> all = Registry::instance().list(ALLM_KIND_TOKENIZER);
  if (all.empty())
    throw PluginLoadError("no tokenizer plugin is loaded (tokenizer_hf and tokenizer_sentencepiece ship with allm; "
                          "see 'allm plugins list')");
  std::stable_sort(all.begin(), all.end(), [](const auto& a, const auto& b) { return a.score > b.score; });
  return all;
}

std::string tokenizer_names(const std::vector<ComponentEntry>& entries) {
  std::string names;
  for (const auto& e : entries) names += (names.empty() ? "" : ", ") + e.name;
  return names;
}

namespace {

TokenizerFactory& factory_of(const ComponentEntry& e) { return *static_cast<TokenizerFactory*>(e.impl); }

}  // namespace

std::vector<ComponentEntry> tokenizers_for(const fs::path& source) {
  std::vector<ComponentEntry> fit;
  for (const auto& e : registered_tokenizers()) {
    try {
      if (factory_of(e).can_load(source)) fit.push_back(e);
    } catch (const std::exception& ex) {  // a plugin's probe failing is a "no", said in the log
      log().debug("tokenizer '{}' cannot load {}: {}", e.name, source.string(), ex.what());
    }
  }
  return fit;
}

std::unique_ptr<Tokenizer> load_tokenizer(const fs::path& source) {
  const std::vector<ComponentEntry> fit = tokenizers_for(source);
  if (fit.empty()) {
    std::error_code ec;
    const std::string what = !fs::exists(source, ec) ? "no such file or directory"
                                                      : "no registered tokenizer can load it (tokenizer.json, "
                                                        "tokenizer.model, ...; registered: " +
                                                            tokenizer_names(registered_tokenizers()) + ")";
    throw TokenizerError(source.string() + ": " + what);
  }
  log().debug("tokenizer '{}' loads {}", fit.front().name, source.string());
  return factory_of(fit.front()).load(source);
}

}  // namespace allm
