#pragma once
// Helpers shared by the engine subcommands (logits, run, bench): token-list
// parsing, thread options, model loading through the host's plugins.
#include <algorithm>
#include <cstdint>
#include <fstream>
#include <iterator>
#include <memory>
#include <optional>
#include <iostream>
#include <thread>
#include <string>
#include <vector>

#include "allm/engine.hpp"
#include "allm/error.hpp"
#include "allm/grammar.hpp"
#include "allm/provider.hpp"
#include "command.hpp"
#include "context.hpp"
#include "model_choice.hpp"

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

// --threads N; more threads than logical cores only make the threads wait for
// each other (minutes instead of seconds), so N is capped there, with a warning.
inline int thread_option(Args& args) {
  auto t = args.integer("threads");
  if (!t) return 0;
  if (*t < 1) throw InvalidArgumentError("--threads must be at least 1, got " + std::to_string(*t));
  const long long cores = std::max(1u, std::thread::hardware_concurrency());
  if (*t > cores) {
    std::cerr << "allm: warning: --threads " << *t << " is more than the " << cores
              << " logical cores of this machine; using " << cores << "\n";
    return static_cast<int>(cores);
  }
  return static_cast<int>(*t);
}

// --backend NAME, else the config's `backend` ("" = the highest score).
inline std::string backend_option(Args& args) {
  if (auto name = args.value("backend")) {
    if (name->empty()) throw InvalidArgumentError("--backend: expected a backend name (see allm info)");
    return *name;
  }
  const auto config = host().config().merged();
  auto it = config.find("backend");
  return it != config.end() && it->is_string() ? it->get<std::string>() : std::string();
}

// --gpu-layers N, else the config's `gpu_layers`: the layers a device
// backend runs (the rest on the CPU); -1: every one.
inline int64_t gpu_layers_option(Args& args) {
  if (auto n = args.integer("gpu-layers")) {
    if (*n < 0) throw InvalidArgumentError("--gpu-layers must be 0 or more layers, got " + std::to_string(*n));
    return *n;
  }
  const auto config = host().config().merged();
  auto it = config.find("gpu_layers");
  if (it == config.end() || !it->is_number_integer()) return -1;
  if (it->get<int64_t>() < -1)
    throw ConfigError("gpu_layers: expected a number of layers (0 or more; -1: every layer), got " + it->dump());
  return it->get<int64_t>();
}

// Loads plugins (for the architectures and backends), then the chosen local
// model, as the local provider does, on `backend` ("" = the usable one with the
// highest score; `gpu_layers` of its layers when it is a device);
// `command` names the command when the model is remote.
inline LoadedModel load_cli_model(const ModelChoice& model, const std::string& command, int threads,
                                  const std::string& backend = {}, int64_t gpu_layers = -1) {
  host().plugins();
  ModelOptions options;
  options.threads = threads;
  options.backend_name = backend;
  options.gpu_layers = gpu_layers;
  return load_model(model.local_model(command), options);
}

inline constexpr const char* kThreadsHelp = "  --threads N          compute threads (default: physical cores)\n";
inline constexpr const char* kBackendHelp =
    "  --backend NAME       compute backend (default: config backend, else the usable\n"
    "                       one with the highest score; see allm info)\n"
    "  --gpu-layers N       with a GPU backend, run only the first N layers there and\n"
    "                       the rest on the CPU (a model larger than the GPU's memory;\n"
    "                       default: config gpu_layers, -1 = all)\n";

// --json-schema FILE / --grammar FILE (at most one), as `allm run` and `allm
// bench` take them: the file's text as an OutputGrammar, compiled here so that
// a grammar which cannot be honoured is reported, naming the file, before a
// model loads.
struct GrammarFile {
  std::string path;
  OutputGrammar grammar;
  std::shared_ptr<const grammar::Grammar> compiled;
};

inline std::optional<GrammarFile> grammar_file_option(const std::optional<std::string>& json_schema,
                                                      const std::optional<std::string>& gbnf) {
  if (json_schema && gbnf) throw InvalidArgumentError("give --json-schema or --grammar, not both");
  if (!json_schema && !gbnf) return std::nullopt;
  GrammarFile f;
  f.path = json_schema ? *json_schema : *gbnf;
  std::ifstream in(f.path, std::ios::binary);
  if (!in) throw IoError(f.path + ": cannot open for reading");
  f.grammar = OutputGrammar{json_schema ? "json_schema" : "gbnf",
                            std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>())};
  try {
    f.compiled = grammar::compile(f.grammar.kind, f.grammar.source);
  } catch (const InvalidArgumentError& e) {
    throw InvalidArgumentError(f.path + ": " + e.what());
  }
  return f;
}

}  // namespace allm::cli
