#include <system_error>

#include "allm/engine.hpp"
#include "allm/error.hpp"
#include "allm/tokenizer_loader.hpp"

namespace allm {

namespace fs = std::filesystem;

std::unique_ptr<Tokenizer> load_checkpoint_tokenizer(const Checkpoint& ck) {
  if (ck.tokenizer_json_text) {
    for (const auto& e : registered_tokenizers()) {
      try {
        return static_cast<TokenizerFactory*>(e.impl)->load_json(*ck.tokenizer_json_text, ck.source.string());
      } catch (const UnsupportedError&) {
        continue;  // this tokenizer takes files only
      }
    }
    throw PluginLoadError(ck.source.string() + ": no registered tokenizer reads a tokenizer.json document (registered: " +
                          tokenizer_names(registered_tokenizers()) + ")");
  }
  std::error_code ec;
  const fs::path source = fs::is_directory(ck.source, ec) || !ck.tokenizer_json ? ck.source : *ck.tokenizer_json;
  if (tokenizers_for(source).empty())  // the model is incomplete: a model load error, as a missing config is
    throw ModelLoadError(ck.source.string() + ": no tokenizer a registered tokenizer plugin can load (tokenizer.json, "
                         "tokenizer.model; registered: " + tokenizer_names(registered_tokenizers()) + ")");
  return load_tokenizer(source);
}

}  // namespace allm
