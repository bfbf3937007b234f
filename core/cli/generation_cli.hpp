#pragma once
// Shared by `allm run` and `allm chat`: the default model, sampling flags,
// creating the local provider (with a load spinner) and the stats line.
#include <unistd.h>

#include <atomic>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <type_traits>
#include <vector>

#include <nlohmann/json.hpp>

#include "allm/error.hpp"
#include "allm/kv_pool.hpp"
#include "allm/model_loader.hpp"
#include "allm/provider.hpp"
#include "allm/registry.hpp"
#include "bundled_models.hpp"
#include "command.hpp"
#include "context.hpp"
#include "engine_cli.hpp"
#include "model_choice.hpp"

namespace allm::cli {

// The built-in default_model: the bundled models/allm-tiny.
inline constexpr const char* kShippedModel = "models/allm-tiny";

// config default_model as a spec (a bundled model's name replaced by its
// folder); default_model() (model_choice.hpp) resolves it.
inline std::string default_model_spec() {
  std::string spec = host().config().merged().value("default_model", std::string());
  if (spec.empty())
    throw InvalidArgumentError("no model named and config default_model is empty (see allm config show)");
  if (auto bundled = bundled_model(spec)) return *bundled;
  if (spec == kShippedModel && !std::filesystem::is_directory(spec))
    throw ModelLoadError("the shipped model '" + spec +
                         "' was not found next to the executable (<prefix>/share/allm/models or the source "
                         "tree's models/); name a model or set default_model");
  return spec;
}

// A number as the user would write it: 2, 0.5, 1e+30 (not 2.000000).
inline std::string shortest_number(double v) {
  char buf[32];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  return ec == std::errc() ? std::string(buf, end) : std::to_string(v);
}

// Checks one flag's value: "--top-p must be in (0, 1], got 2".
template <class T, class Ok>
void check_flag(const char* flag, const std::optional<T>& v, Ok ok, const char* rule) {
  if (!v || ok(*v)) return;
  std::string got;
  if constexpr (std::is_floating_point_v<T>) got = shortest_number(*v);
  else got = std::to_string(*v);
  throw InvalidArgumentError(std::string("--") + flag + " must be " + rule + ", got " + got);
}

// Sampling and stopping flags -> GenerationParams (unset flags stay unset, so
// the model's generation_config.json and then the config decide). Each value
// is checked here, so errors name the flag the user typed.
inline GenerationParams generation_flags(Args& args) {
  GenerationParams p;
  p.temperature = args.number("temperature");
  check_flag("temperature", p.temperature, [](double v) { return v >= 0; }, ">= 0");
  p.top_p = args.number("top-p");
  check_flag("top-p", p.top_p, [](double v) { return v > 0 && v <= 1; }, "in (0, 1]");
  p.min_p = args.number("min-p");
  check_flag("min-p", p.min_p, [](double v) { return v >= 0 && v <= 1; }, "in [0, 1]");
  const char* rep_flag = "repeat-penalty";
  auto rep = args.number(rep_flag);
  if (!rep) rep = args.number(rep_flag = "repetition-penalty");
  check_flag(rep_flag, rep, [](double v) { return v > 0; }, "> 0 (1 = off)");
  p.repetition_penalty = rep;
  p.presence_penalty = args.number("presence-penalty");
  check_flag("presence-penalty", p.presence_penalty, [](double v) { return v >= -2 && v <= 2; }, "in [-2, 2]");
  p.frequency_penalty = args.number("frequency-penalty");
  check_flag("frequency-penalty", p.frequency_penalty, [](double v) { return v >= -2 && v <= 2; }, "in [-2, 2]");
  auto k = args.integer("top-k");
  check_flag("top-k", k, [](long long v) { return v >= 0 && v <= INT32_MAX; }, "between 0 (off) and 2147483647");
  if (k) p.top_k = static_cast<int>(*k);
  auto seed = args.integer("seed");
  check_flag("seed", seed, [](long long v) { return v >= -1; }, ">= 0, or -1 for random");
  p.seed = seed;
  auto n = args.integer("max-tokens");
  check_flag("max-tokens", n, [](long long v) { return v >= 1 && v <= INT32_MAX; }, "between 1 and 2147483647");
  if (n) p.max_tokens = static_cast<int>(*n);
  auto stops = args.values("stop");
  for (auto& s : stops)
    if (s.empty()) throw InvalidArgumentError("--stop must not be empty");
  if (!stops.empty()) p.stop = stops;
  if (args.flag("ignore-eos")) p.ignore_eos = true;
  p.validate("options");  // the checks above cover every rule; this one guards new fields
  return p;
}

// --truncation POLICY: what to do when the conversation outgrows the context window.
inline TruncationPolicy truncation_flag(const std::string& name) {
  for (auto p : {TruncationPolicy::error, TruncationPolicy::drop_oldest, TruncationPolicy::truncate_left})
    if (name == truncation_policy_name(p)) return p;
  throw InvalidArgumentError("--truncation must be error, drop_oldest or truncate_left, got " + name);
}

// The typed text's media markers (<__media__>, as llama.cpp writes them): the
// i-th marker is where the i-th attached file goes. No marker: the files go
// before the text (offsets empty). Another count than the files' is refused.
inline MarkedText place_attachments(const std::string& text, size_t files, const std::string& what) {
  MarkedText marked = split_media_markers(text);
  if (marked.offsets.empty()) return {text, {}};
  if (marked.offsets.size() != files)
    throw InvalidArgumentError(what + " has " + std::to_string(marked.offsets.size()) + " media marker(s) (" +
                               kMediaMarker + ") for " + std::to_string(files) +
                               " attached file(s): give one marker per file (the i-th marker places the i-th "
                               "file), or none to put the files before the text");
  return marked;
}

// What the user should know about the context window after a reply: turns
// left out to make room, or a reply that stopped because the window was full
// (not because the model finished). Empty when neither happened.
inline std::string context_notes(const GenerateResponse& r, const Capabilities& caps) {
  std::string note;
  if (r.dropped_messages > 0)
    note = "left out the " + std::to_string(r.dropped_messages) +
           " oldest messages to fit the context window (" + std::to_string(caps.max_context) + " tokens)";
  if (r.finish_reason == finish_reason::length && caps.max_context > 0 && r.usage.total_tokens >= caps.max_context)
    note += std::string(note.empty() ? "" : "; ") + "the reply stopped because the context window (" +
            std::to_string(caps.max_context) + " tokens) is full: raise --ctx, shorten the prompt" +
            " or start a new conversation";
  return note;
}

inline constexpr const char* kGenerationFlagsHelp =
    "  --temperature T        0 = greedy (default: the model's, then config)\n"
    "  --top-p P              nucleus sampling mass in (0, 1]\n"
    "  --top-k K              keep the K most likely tokens (0 = off)\n"
    "  --min-p P              drop tokens below P x the top probability\n"
    "  --repeat-penalty R     divide repeated tokens' positive logits by R\n"
    "  --presence-penalty X   in [-2, 2]\n"
    "  --frequency-penalty X  in [-2, 2]\n"
    "  --seed N               same seed, same output (-1 = random)\n"
    "  --max-tokens N         reply length limit\n"
    "  --stop S               end the reply before S (repeatable)\n"
    "  --ignore-eos           keep going past end-of-sequence tokens\n"
    "  --ctx N                context window (default: config context_length,\n"
    "                         capped at the model's max_position_embeddings)\n"
    "  --threads N            compute threads (default: physical cores; capped at\n"
    "                         the logical cores, with a warning)\n"
    "  --kv-budget SIZE       most memory the KV cache may take, e.g. 512M, 4GiB\n"
    "                         (default: config kv_budget; 0 = no limit)\n"
    "  --kv-type T            KV cache storage: f32 (exact), f16, q8_0 (default: config kv_type)\n"
    "  --backend NAME         compute backend (default: config backend, else the\n"
    "                         usable one with the highest score; see allm info)\n"
    "  --gpu-layers N         with a GPU backend, run only the first N layers there\n"
    "                         and the rest on the CPU (a model larger than the GPU's\n"
    "                         memory; default: config gpu_layers, -1 = all)\n";

// Shows "loading MODEL… 1.2 s" on stderr while `work` runs, when stderr is a
// terminal and the work takes longer than half a second.
template <class F>
auto with_load_spinner(const std::string& what, F&& work) {
  std::atomic<bool> done{false};
  std::thread spinner;
  if (isatty(STDERR_FILENO)) {
    spinner = std::thread([&] {
      const auto t0 = std::chrono::steady_clock::now();
      static const char* frames[] = {"|", "/", "-", "\\"};
      bool shown = false;
      for (int i = 0; !done.load(); ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
        const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        if (s < 0.5 || done.load()) continue;
        std::fprintf(stderr, "\r%s loading %s ... %.1f s", frames[i % 4], what.c_str(), s);
        std::fflush(stderr);
        shown = true;
      }
      if (shown) std::fprintf(stderr, "\r\033[K");
    });
  }
  struct Join {
    std::atomic<bool>& done;
    std::thread& t;
    ~Join() {
      done = true;
      if (t.joinable()) t.join();
    }
  } join{done, spinner};
  return work();
}

// The local provider for the chosen model with the host's config and the CLI's options.
inline std::shared_ptr<Provider> make_local_provider(const ModelChoice& model, nlohmann::json options) {
  host().plugins();
  ProviderFactory* factory = Registry::instance().provider("local");
  if (!factory)
    throw PluginLoadError("the 'local' provider plugin (provider_local) is not installed or failed to load "
                          "(see 'allm plugins list')");
  add_model_options(model, options);
  options["config"] = host().config().merged();
  return with_load_spinner(model.spec, [&] { return factory->create(options); });
}

// The provider for the chosen model: a remote one for PROVIDER:MODEL
// (docs/providers.md), else the local engine. `options` are the local engine's;
// a remote provider reads its settings from the config's providers.<name>
// section instead.
inline std::shared_ptr<Provider> make_provider(const ModelChoice& model, nlohmann::json options) {
  if (model.remote.empty()) return make_local_provider(model, std::move(options));
  nlohmann::json remote_options = {{"model", model.remote_model()}, {"config", host().config().merged()}};
  return Registry::instance().provider(model.remote)->create(remote_options);
}

// Reads the provider options shared by run and chat from the command line.
inline nlohmann::json provider_flags(Args& args) {
  nlohmann::json o = nlohmann::json::object();
  if (auto ctx = args.integer("ctx")) {
    if (*ctx < 1) throw InvalidArgumentError("--ctx must be a positive number of tokens");
    o["context_length"] = *ctx;
  }
  if (int t = thread_option(args)) o["threads"] = t;
  if (auto budget = args.value("kv-budget")) o["kv_budget"] = parse_byte_size(*budget, "--kv-budget");
  if (auto type = args.value("kv-type")) o["kv_type"] = kv_type_name(parse_kv_type(*type, "--kv-type"));
  if (auto backend = backend_option(args); !backend.empty()) o["backend"] = backend;
  if (const int64_t layers = gpu_layers_option(args); layers >= 0) o["gpu_layers"] = layers;
  return o;
}

}  // namespace allm::cli

namespace allm::cli {

// While alive, Ctrl-C cancels `token` instead of ending the program (a second
// Ctrl-C after the first was not yet noticed still only cancels).
class SigintCancels {
 public:
  explicit SigintCancels(const CancellationToken& token);
  ~SigintCancels();
  SigintCancels(const SigintCancels&) = delete;
  SigintCancels& operator=(const SigintCancels&) = delete;
};

// "load 12 ms | prompt 34 tokens (30 new) 812.3 tok/s | reply 40 tokens 312.5 tok/s | seed 7"
std::string stats_line(const GenerateResponse& r, const Capabilities& caps);

}  // namespace allm::cli
