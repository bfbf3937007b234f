// allm run MODEL --prompt-tokens 1,2,3 [sampling options] [--json]
#include <iostream>
#include <optional>

#include <nlohmann/json.hpp>

#include "allm/generate.hpp"
#include "allm/log.hpp"
#include "allm/registry.hpp"
#include "allm/tokenizer.hpp"
#include "engine_cli.hpp"

namespace allm::cli {

namespace {

// Sampling flags as given; unset ones fall back to generation_config.json.
struct SamplingFlags {
  std::optional<double> temperature, top_p, min_p, repetition_penalty, presence_penalty, frequency_penalty;
  std::optional<long long> top_k, seed;

  explicit SamplingFlags(Args& args)
      : temperature(args.number("temperature")),
        top_p(args.number("top-p")),
        min_p(args.number("min-p")),
        repetition_penalty(args.number("repetition-penalty")),
        presence_penalty(args.number("presence-penalty")),
        frequency_penalty(args.number("frequency-penalty")),
        top_k(args.integer("top-k")),
        seed(args.integer("seed")) {}

  SamplingParams resolve(const GenerationDefaults& gen) const {
    SamplingParams p;
    p.temperature = temperature.value_or(gen.temperature.value_or(1.0));
    p.top_p = top_p.value_or(gen.top_p.value_or(1.0));
    p.min_p = min_p.value_or(gen.min_p.value_or(0.0));
    p.top_k = top_k.value_or(gen.top_k.value_or(0));
    p.repetition_penalty = repetition_penalty.value_or(gen.repetition_penalty.value_or(1.0));
    p.presence_penalty = presence_penalty.value_or(0.0);
    p.frequency_penalty = frequency_penalty.value_or(0.0);
    p.seed = static_cast<uint64_t>(seed.value_or(0));
    p.validate();
    return p;
  }
};

// Detokenizes with the "hf" tokenizer plugin when the checkpoint has a tokenizer.json.
std::string detokenize(const Checkpoint& ckpt, const std::vector<int32_t>& ids) {
  TokenizerFactory* f = Registry::instance().tokenizer("hf");
  if (!f) return "";
  try {
    std::unique_ptr<Tokenizer> tok;
    if (ckpt.tokenizer_json)
      tok = f->load(*ckpt.tokenizer_json);
    else if (ckpt.tokenizer_json_text)
      tok = f->load_json(*ckpt.tokenizer_json_text, ckpt.source.string());
    return tok ? tok->decode(ids, true) : "";
  } catch (const Error& e) {  // the ids are still the result; say why there is no text
    log().warn("no text: {}", e.what());
    return "";
  }
}

}  // namespace

static int run_run(Args& args) {
  const bool json = args.flag("json");
  const bool ignore_eos = args.flag("ignore-eos");
  auto prompt_text = args.value("prompt-tokens");
  auto max_tokens = args.integer("max-tokens");
  const int threads = thread_option(args);
  const SamplingFlags sampling(args);
  auto pos = args.positionals();
  args.finish();
  if (pos.size() != 1) throw InvalidArgumentError("usage: allm run MODEL --prompt-tokens 1,2,3 [options]");
  if (!prompt_text) throw InvalidArgumentError("--prompt-tokens is required");
  if (max_tokens && *max_tokens < 0) throw InvalidArgumentError("--max-tokens must be >= 0");

  LoadedModel lm = load_cli_model(pos[0], threads);
  GenerationRequest req;
  req.prompt = parse_token_list(*prompt_text, "--prompt-tokens");
  req.sampling = sampling.resolve(lm.checkpoint.generation);
  req.max_tokens = max_tokens.value_or(256);
  req.eos_ids = lm.checkpoint.generation.eos_token_ids;
  req.ignore_eos = ignore_eos;

  auto cache = lm.model->make_cache(static_cast<int64_t>(req.prompt.size()) + req.max_tokens);
  GenerationResult r = generate(*lm.model, *cache, req);
  const std::string text = detokenize(lm.checkpoint, r.tokens);
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

ALLM_CLI_COMMAND(run, "Generate tokens from a model",
                 "Usage: allm run MODEL --prompt-tokens 1,2,3 [options]\n\n"
                 "Feeds the prompt token ids to the model and generates a continuation.\n"
                 "Prints the generated ids (and their text when an 'hf' tokenizer plugin\n"
                 "and the checkpoint's tokenizer.json are available). Unset sampling\n"
                 "options come from the checkpoint's generation_config.json.\n\n"
                 "  --prompt-tokens IDS       comma-separated prompt token ids (required)\n"
                 "  --max-tokens N            tokens to generate at most (default 256)\n"
                 "  --temperature T           0 = greedy\n"
                 "  --top-k K                 keep the K most likely tokens (0 = off)\n"
                 "  --top-p P                 nucleus sampling mass in (0, 1]\n"
                 "  --min-p P                 drop tokens below P x the top probability\n"
                 "  --repetition-penalty R    divide repeated tokens' positive logits by R\n"
                 "  --presence-penalty X      subtract X from every generated token's logit\n"
                 "  --frequency-penalty X     subtract X per occurrence in the generated text\n"
                 "  --seed S                  random seed (same seed, same output)\n"
                 "  --ignore-eos              keep going past end-of-sequence tokens\n"
                 "  --threads N               compute threads (default: physical cores)\n"
                 "  --json                    print one JSON object: token_ids, text,\n"
                 "                            finish_reason, usage, timings\n",
                 run_run)

}  // namespace allm::cli
