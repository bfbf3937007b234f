#pragma once
// Shared by `allm run` and `allm chat`: the default model, sampling flags,
// creating the local provider (with a load spinner) and the stats line.
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "allm/error.hpp"
#include "allm/kv_pool.hpp"
#include "allm/model_loader.hpp"
#include "allm/provider.hpp"
#include "allm/registry.hpp"
#include "command.hpp"
#include "context.hpp"
#include "engine_cli.hpp"

namespace allm::cli {

// The built-in default_model; found next to the executable, not the cwd.
inline constexpr const char* kShippedModel = "models/allm-tiny";

// config default_model; the shipped model's relative default is looked up
// from the executable: <prefix>/share/allm/models/allm-tiny (installed) or
// <build>/../models/allm-tiny (build tree).
inline std::string default_model_spec() {
  std::string spec = host().config().merged().value("default_model", std::string());
  if (spec.empty())
    throw InvalidArgumentError("no model named and config default_model is empty (see allm config show)");
  if (spec != kShippedModel) return spec;
  std::error_code ec;
  const auto exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    const auto bin = exe.parent_path();
    for (auto candidate : {bin / ".." / "share" / "allm" / spec, bin / ".." / ".." / spec})
      if (std::filesystem::is_directory(candidate)) return candidate.lexically_normal().string();
  }
  if (std::filesystem::is_directory(spec)) return spec;
  throw ModelLoadError("the shipped model '" + spec + "' was not found next to the executable (" +
                       (ec ? std::string("/proc/self/exe unreadable") : exe.string()) +
                       "); name a model or set default_model");
}

// True when `text` names a model: an existing path or a repo id in the HF cache.
inline bool names_a_model(const std::string& text) {
  if (text.empty() || text == "-") return false;
  try {
    resolve_model(text);
    return true;
  } catch (const Error&) {
    return false;
  }
}

// Sampling and stopping flags -> GenerationParams (unset flags stay unset, so
// the model's generation_config.json and then the config decide).
inline GenerationParams generation_flags(Args& args) {
  GenerationParams p;
  auto nonneg = [](const char* flag, std::optional<double> v) {
    if (v && *v < 0) throw InvalidArgumentError(std::string("--") + flag + " must be >= 0, got " + std::to_string(*v));
    return v;
  };
  p.temperature = nonneg("temperature", args.number("temperature"));
  p.top_p = args.number("top-p");
  p.min_p = args.number("min-p");
  auto rep = args.number("repeat-penalty");
  if (!rep) rep = args.number("repetition-penalty");
  p.repetition_penalty = rep;
  p.presence_penalty = args.number("presence-penalty");
  p.frequency_penalty = args.number("frequency-penalty");
  if (auto k = args.integer("top-k")) {
    if (*k < 0 || *k > INT32_MAX) throw InvalidArgumentError("--top-k must be between 0 and 2147483647");
    p.top_k = static_cast<int>(*k);
  }
  if (auto s = args.integer("seed")) p.seed = *s;
  if (auto n = args.integer("max-tokens")) {
    if (*n <= 0 || *n > INT32_MAX) throw InvalidArgumentError("--max-tokens must be a positive integer");
    p.max_tokens = static_cast<int>(*n);
  }
  auto stops = args.values("stop");
  if (!stops.empty()) p.stop = stops;
  if (args.flag("ignore-eos")) p.ignore_eos = true;
  p.validate("options");
  return p;
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
    "  --threads N            compute threads (default: physical cores)\n"
    "  --kv-budget SIZE       most memory the KV cache may take, e.g. 512M, 4GiB\n"
    "                         (default: config kv_budget; 0 = no limit)\n";

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

// The local provider for `model` with the host's config and the CLI's options.
inline std::shared_ptr<Provider> make_local_provider(const std::string& model, nlohmann::json options) {
  host().plugins();
  ProviderFactory* factory = Registry::instance().provider("local");
  if (!factory)
    throw PluginLoadError("the 'local' provider plugin (provider_local) is not installed or failed to load "
                          "(see 'allm plugins list')");
  options["model"] = model;
  options["config"] = host().config().merged();
  return with_load_spinner(model, [&] { return factory->create(options); });
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

// "load 12 ms | prompt 34 tokens (30 new) 812.3 tok/s | reply 40 tokens 312.5 tok/s"
std::string stats_line(const GenerateResponse& r, const Capabilities& caps);

}  // namespace allm::cli
