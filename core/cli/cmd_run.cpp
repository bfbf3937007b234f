// allm run: text generation through the local provider (streamed), or the
// engine's token-id mode (--prompt-tokens) for exact, template-free checks.
#include <poll.h>
#include <sys/stat.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <optional>

#include <nlohmann/json.hpp>

#include "allm/generate.hpp"
#include "allm/generation_request.hpp"
#include "allm/provider/generation.hpp"
#include "allm/log.hpp"
#include "allm/media.hpp"
#include "allm/registry.hpp"
#include "allm/tokenizer.hpp"
#include "allm/engine.hpp"
#include "allm/tokenizer_loader.hpp"
#include "engine_cli.hpp"
#include "generation_cli.hpp"

namespace allm::cli {

namespace {

// The checkpoint's tokenizer (the plugin whose can_load takes it), or null
// when it has none (the ids are still the result; the text is left out).
std::unique_ptr<Tokenizer> checkpoint_tokenizer(const Checkpoint& ckpt) {
  try {
    return load_checkpoint_tokenizer(ckpt);
  } catch (const Error& e) {  // say why there is no text
    log().warn("no text: {}", e.what());
  }
  return nullptr;
}

// The config's generation section, the last fallback of every parameter.
GenerationParams config_generation() {
  const nlohmann::json config = host().config().merged();
  auto it = config.find("generation");
  return it != config.end() ? GenerationParams::from_json(*it, "config.generation") : GenerationParams{};
}

}  // namespace

// allm run MODEL --prompt-tokens 1,2,3: ids in, ids (and text) out. The
// parameters take the same path as text mode's (the local provider's):
// flags > generation_config.json > config generation, then
// generation_request, so the same prompt and seed sample the same tokens.
static int run_token_ids(Args& args, const std::string& prompt_tokens) {
  const bool json = args.flag("json");
  const int threads = thread_option(args);
  const std::string backend = backend_option(args);
  const int64_t gpu_layers = gpu_layers_option(args);
  const GenerationParams flags = generation_flags(args);
  auto pos = args.positionals();
  args.finish();
  if (pos.size() > 1) throw InvalidArgumentError("usage: allm run [MODEL] --prompt-tokens 1,2,3 [options]");
  std::vector<int32_t> prompt = parse_token_list(prompt_tokens, "--prompt-tokens");

  LoadedModel lm = load_cli_model(pos.empty() ? default_model() : choose_model(pos[0]), "allm run --prompt-tokens",
                                  threads, backend, gpu_layers);
  const std::unique_ptr<Tokenizer> tokenizer = checkpoint_tokenizer(lm.checkpoint);
  const ResolvedParams params =
      resolve_generation_params(flags, params_from_model_defaults(lm.checkpoint.generation), config_generation());
  int64_t context = lm.model->info().context_length;
  if (const int64_t configured = host().config().merged().value("context_length", int64_t{0}); configured > 0)
    context = context > 0 ? std::min(context, configured) : configured;
  GenerationRequest req = generation_request(params, std::move(prompt),
                                             eos_ids_of(lm.checkpoint.generation, tokenizer.get()), context);
  if (req.max_tokens < 1)
    throw ContextWindowError("the prompt of " + std::to_string(req.prompt.size()) +
                             " tokens leaves no room to generate in the context window of " + std::to_string(context));

  std::optional<StreamDecoder> decoder;  // the text, and stop strings seen in it as in text mode
  if (tokenizer) {
    decoder.emplace(*tokenizer, true);
    req.token_text = [&](int32_t id) { return decoder->push(id); };
  }

  auto cache = lm.model->make_cache(static_cast<int64_t>(req.prompt.size()) + req.max_tokens);
  GenerationResult r = generate(*lm.model, *cache, req);
  const std::string& text = r.text;
  const int64_t completion = static_cast<int64_t>(r.tokens.size());
  const double prefill_tps = r.prefill_ms > 0 ? r.prompt_tokens * 1000.0 / r.prefill_ms : 0;
  const double decode_tps = r.decode_ms > 0 && r.decode_steps > 0 ? r.decode_steps * 1000.0 / r.decode_ms : 0;
  if (json) {
    nlohmann::json j = {
        {"token_ids", r.tokens},
        {"text", text},
        {"finish_reason", r.finish_reason},
        {"usage",
         {{"prompt_tokens", r.prompt_tokens}, {"completion_tokens", completion},
          {"total_tokens", r.prompt_tokens + completion}}},
        {"timings",
         {{"load_ms", lm.load_ms}, {"prefill_tokens_per_s", prefill_tps}, {"decode_tokens_per_s", decode_tps}}}};
    std::cout << j.dump() << "\n";
    return 0;
  }
  for (size_t i = 0; i < r.tokens.size(); ++i) std::cout << (i ? "," : "") << r.tokens[i];
  std::cout << "\n";
  if (!text.empty()) std::cout << text << "\n";
  log().info("finish_reason={} prompt={} completion={} load={:.0f} ms prefill={:.1f} tok/s decode={:.1f} tok/s",
             r.finish_reason, r.prompt_tokens, completion, lm.load_ms, prefill_tps, decode_tps);
  return 0;
}

namespace {

// The prompt from stdin, checked here so a bad byte is reported at its place
// in what was piped in.
std::string read_stdin() {
  std::string all((std::istreambuf_iterator<char>(std::cin)), std::istreambuf_iterator<char>());
  while (!all.empty() && (all.back() == '\n' || all.back() == '\r')) all.pop_back();
  const size_t bad = find_non_text_byte({reinterpret_cast<const uint8_t*>(all.data()), all.size()});
  if (bad != std::string::npos) {
    char hex[8];
    std::snprintf(hex, sizeof hex, "0x%02X", static_cast<unsigned char>(all[bad]));
    throw InvalidArgumentError("the prompt read from stdin is not valid UTF-8 at byte " + std::to_string(bad + 1) +
                               " (" + hex + ")");
  }
  return all;
}

// stdin is a pipe or a redirected file (not a terminal, not /dev/null).
bool stdin_is_piped() {
  struct stat st {};
  if (fstat(STDIN_FILENO, &st) != 0) return false;
  return S_ISFIFO(st.st_mode) || S_ISREG(st.st_mode);
}

// How long a prompt argument waits for piped stdin to start (data or its end).
// A pipe that stays silent is most likely inherited from a parent (a CI
// runner, a `while read` loop), not meant for this run: it must not hang it.
constexpr int kPipedStdinWaitMs = 2000;

bool stdin_starts_within(int ms) {
  pollfd p{STDIN_FILENO, POLLIN, 0};
  return poll(&p, 1, ms) > 0;
}

struct ModelAndPrompt {
  std::optional<ModelChoice> chosen;  // a lone argument, chosen to tell model from prompt
  std::string typed;                  // else the model as typed ("": config default_model)
  std::optional<std::string> prompt;
  std::string ambiguity;  // set when a lone word was taken as the model because a path of that name exists
};

// [MODEL] [PROMPT]: the first positional is the model when it names one,
// unless --model names it or `--` marks what follows as the prompt.
ModelAndPrompt model_and_prompt(const std::vector<std::string>& pos, size_t before_dashdash,
                                const std::optional<std::string>& model_flag) {
  if (model_flag) {
    if (pos.size() > 1)
      throw InvalidArgumentError("with --model, allm run takes at most PROMPT; quote a prompt with spaces (got " +
                                 std::to_string(pos.size()) + " arguments)");
    return {std::nullopt, *model_flag, pos.empty() ? std::nullopt : std::optional<std::string>(pos[0]), ""};
  }
  if (pos.size() > 2)
    throw InvalidArgumentError("allm run takes at most MODEL and PROMPT; quote a prompt with spaces (got " +
                               std::to_string(pos.size()) + " arguments)");
  if (pos.size() == 2) return {std::nullopt, pos[0], pos[1], ""};
  std::optional<ModelChoice> named;
  if (pos.size() == 1 && before_dashdash == 1) named = model_named_by(pos[0]);
  if (named) {
    std::string ambiguity;
    std::error_code ec;
    if (pos[0].find('/') == std::string::npos && std::filesystem::exists(pos[0], ec))
      ambiguity = "'" + pos[0] + "' was taken as the model, since a file or folder of that name is here; to send it "
                  "as the prompt instead: allm run -- " + pos[0] + " (or allm run --model MODEL " + pos[0] + ")";
    return {std::move(named), "", std::nullopt, ambiguity};
  }
  if (pos.size() == 1) return {std::nullopt, "", pos[0], ""};
  return {std::nullopt, "", std::nullopt, ""};
}

}  // namespace

// allm run [MODEL] [PROMPT]: text in, streamed text out.
static int run_text(Args& args) {
  const bool json = args.flag("json");
  const bool stats = args.flag("stats");
  const bool raw = args.flag("raw");
  const bool show_prompt = args.flag("show-prompt");
  auto model_flag = args.value("model");
  auto system = args.value("system");
  auto truncation = args.value("truncation");
  auto files = args.values("file");
  auto json_schema = args.value("json-schema");
  auto gbnf = args.value("grammar");
  nlohmann::json options = provider_flags(args);
  GenerateRequest request;
  request.params = generation_flags(args);
  auto pos = args.positionals();
  args.finish();

  auto [chosen, typed, prompt, ambiguity] = model_and_prompt(pos, args.positionals_before_dashdash(), model_flag);
  // An init-capture: clang 14 cannot capture a structured binding (C++20 allows it; the sanitizer build is clang).
  const auto because = [&why = ambiguity] { return why.empty() ? std::string() : " (" + why + ")"; };
  const bool file_from_stdin = std::find(files.begin(), files.end(), "-") != files.end();
  if (file_from_stdin && (!prompt || *prompt == "-"))
    throw InvalidArgumentError("stdin is already the attached file (--file -): give PROMPT as an argument");
  if (!prompt && isatty(STDIN_FILENO))
    throw InvalidArgumentError("no prompt: give PROMPT, pipe it in, or pass '-' to type it (end with Ctrl-D)" +
                               because());
  if (!prompt || *prompt == "-") {
    prompt = read_stdin();
  } else if (!file_from_stdin && stdin_is_piped()) {
    // `git diff | allm run MODEL "Review this"`: the argument, then what was piped in.
    if (stdin_starts_within(kPipedStdinWaitMs)) {
      const std::string piped = read_stdin();
      if (!piped.empty()) *prompt += "\n\n" + piped;
    } else {
      std::cerr << "allm: note: stdin is a pipe that gave nothing for " << kPipedStdinWaitMs / 1000
                << " s; not waiting for it (use --file - to attach it, which waits)\n";
    }
  }
  if (prompt->empty() && files.empty())
    throw InvalidArgumentError("the prompt is empty (give PROMPT or pipe it in)" + because());
  if (!ambiguity.empty()) std::cerr << "allm: note: " << ambiguity << "\n";
  MarkedText marked = place_attachments(*prompt, files.size(), "the prompt");
  request.prompt = std::move(marked.text);
  request.file_offsets = std::move(marked.offsets);
  // --system "" means no system turn at all, as chat's /system with no text.
  if (system && !system->empty()) request.system_prompt = system;
  if (truncation) request.truncation = truncation_flag(*truncation);
  for (auto& f : files) request.files.emplace_back(f == "-" ? "/dev/stdin" : f);
  if (auto file = grammar_file_option(json_schema, gbnf)) request.grammar = std::move(file->grammar);
  options["template"] = raw ? "none" : "auto";
  options["show_prompt"] = show_prompt;

  // The model is chosen after the prompt is checked, so a bad prompt is reported first.
  const ModelChoice model = chosen ? std::move(*chosen) : typed.empty() ? default_model() : choose_model(typed);
  auto provider = make_provider(model, options);
  CancellationToken cancel;
  GenerateResponse response;
  {
    SigintCancels on_ctrl_c(cancel);
    if (json) {
      response = provider->generate(request, cancel);
    } else {
      response = provider->generate(
          request, [](const StreamDelta& d) { std::cout << d.text << std::flush; }, cancel);
      if (!response.text.empty() && response.text.back() != '\n') std::cout << "\n";
      std::cout << std::flush;
    }
  }
  if (json) std::cout << response.to_json().dump() << "\n";
  if (stats) std::cerr << stats_line(response, provider->capabilities()) << "\n";
  if (auto note = context_notes(response, provider->capabilities()); !note.empty()) std::cerr << "allm: note: " << note << "\n";
  if (response.finish_reason == finish_reason::cancelled) throw CancelledError("generation cancelled (Ctrl-C)");
  return 0;
}

static int run_run(Args& args) {
  if (auto ids = args.value("prompt-tokens")) return run_token_ids(args, *ids);
  return run_text(args);
}

ALLM_CLI_COMMAND(run, "Generate text from a model (streamed)",
                 "Usage: allm run [MODEL] [PROMPT] [options]\n"
                 "       allm run [MODEL] --prompt-tokens 1,2,3 [options]\n\n"
                 "Streams the model's answer to PROMPT on stdout as it is generated.\n"
                 "MODEL is a model directory, a .gguf file, a Hugging Face repo id in the\n"
                 "local HF cache (e.g. Qwen/Qwen3-0.6B) or a bundled model's name (allm-tiny);\n"
                 "without it, config default_model is used (built in: the bundled allm-tiny).\n"
                 "A remote model is PROVIDER:MODEL (openai:gpt-4o-mini, anthropic:NAME,\n"
                 "ollama:llama3.2; base URLs and keys: docs/providers.md).\n"
                 "A lone first argument is taken as MODEL when it names one (an existing\n"
                 "path too), else as PROMPT: 'allm run -- WORDS' or '--model MODEL' forces it\n"
                 "to be the prompt. Without PROMPT (or with '-'), the prompt is read from\n"
                 "stdin; with PROMPT, piped stdin is appended to it after a blank line\n"
                 "(git diff | allm run MODEL \"Review this\").\n\n"
                 "The prompt goes through the model's chat template as one user turn (with\n"
                 "--system before it); --raw skips the template for plain text completion.\n"
                 "A model without a template gets a 'role: content' fallback, with a warning.\n\n"
                 "  --model M              the model (then every argument is the prompt)\n"
                 "  --system S             system prompt (\"\" = no system turn)\n"
                 "  --file F               attach a file (text files join the prompt under\n"
                 "                         their name; repeatable); '-' reads it from stdin,\n"
                 "                         <(command) works too; files go before the text,\n"
                 "                         or each at a <__media__> in PROMPT (in order)\n"
                 "  --truncation P         when the prompt outgrows the context window: error\n"
                 "                         (default), drop_oldest or truncate_left\n"
                 "  --raw                  no chat template: continue PROMPT as plain text\n"
                 "  --json-schema FILE     constrain the answer to JSON valid for the schema in\n"
                 "                         FILE (docs/structured-output.md); a schema keyword\n"
                 "                         that cannot be honoured is an error (exit code 2)\n"
                 "  --grammar FILE         constrain the answer to the GBNF grammar in FILE\n"
                 "  --json                 print one JSON object instead of streaming: text,\n"
                 "                         token_ids, finish_reason, usage, timings, model\n"
                 "  --stats                print load time, prompt and generation tok/s on stderr\n"
                 "  --show-prompt          print the rendered prompt on stderr\n"
                 "  --repetition-penalty R same as --repeat-penalty\n"
                 "  --prompt-tokens IDS    token-id mode: feed these comma-separated ids (no\n"
                 "                         tokenizer, no template); prints the generated ids\n"
                 "                         and their text, or with --json: token_ids, text,\n"
                 "                         finish_reason, usage, timings. The same parameters\n"
                 "                         and defaults as text mode: the same ids and --seed\n"
                 "                         sample the same tokens.\n"
                 "\n" + std::string(kGenerationFlagsHelp) +
                 "\nCtrl-C stops the answer (exit code 13). Exit codes: docs/cli.md.\n",
                 run_run)

}  // namespace allm::cli
