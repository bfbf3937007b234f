#pragma once
// Helpers shared by the engine subcommands (logits, run, bench): token-list
// parsing, thread options, model loading through the host's plugins.
#include <cstdint>
#include <string>
#include <vector>

#include "allm/engine.hpp"
#include "allm/error.hpp"
#include "command.hpp"
#include "context.hpp"

namespace allm::cli {

// "1,2, 3" -> {1, 2, 3}; `option` names the flag in errors.
inline std::vector<int32_t> parse_token_list(const std::string& text, const std::string& option) {
  std::vector<int32_t> ids;
  size_t at = 0;
  while (at <= text.size()) {
    size_t comma = text.find(',', at);
    if (comma == std::string::npos) comma = text.size();
    std::string item = text.substr(at, comma - at);
    item.erase(0, item.find_first_not_of(" \t"));
    item.erase(item.find_last_not_of(" \t") + 1);
    size_t used = 0;
    long long v = -1;
    try {
      v = std::stoll(item, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (item.empty() || used != item.size() || v < 0 || v > INT32_MAX)
      throw InvalidArgumentError(option + ": '" + item + "' (item " + std::to_string(ids.size() + 1) +
                                 ") is not a non-negative token id");
    ids.push_back(static_cast<int32_t>(v));
    at = comma + 1;
  }
  return ids;
}

inline int thread_option(Args& args) {
  auto t = args.integer("threads");
  if (t && (*t < 1 || *t > 1024)) throw InvalidArgumentError("--threads must be between 1 and 1024");
  return t ? static_cast<int>(*t) : 0;
}

// Loads plugins (for the architectures), then the model.
inline LoadedModel load_cli_model(const std::string& path, int threads) {
  host().plugins();
  ModelOptions options;
  options.threads = threads;
  return load_model(path, options);
}

inline constexpr const char* kThreadsHelp = "  --threads N          compute threads (default: physical cores)\n";

}  // namespace allm::cli
