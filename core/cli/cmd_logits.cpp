// allm logits MODEL --tokens 1,2,3 --out FILE.safetensors
#include <iostream>

#include "allm/log.hpp"
#include "allm/safetensors_writer.hpp"
#include "engine_cli.hpp"

namespace allm::cli {

static int run_logits(Args& args) {
  auto tokens_text = args.value("tokens");
  auto out = args.value("out");
  const int threads = thread_option(args);
  auto pos = args.positionals();
  args.finish();
  if (pos.size() != 1) throw InvalidArgumentError("usage: allm logits MODEL --tokens 1,2,3 --out FILE.safetensors");
  if (!tokens_text) throw InvalidArgumentError("--tokens is required");
  if (!out) throw InvalidArgumentError("--out is required");
  const auto ids = parse_token_list(*tokens_text, "--tokens");

  LoadedModel lm = load_cli_model(choose_model(pos[0]), "allm logits", threads);
  const int64_t vocab = lm.model->info().vocab_size, n = static_cast<int64_t>(ids.size());
  std::vector<float> logits(static_cast<size_t>(n * vocab));
  auto cache = lm.model->make_cache(n);
  lm.model->forward(ids, *cache, LogitsMode::all, logits.data());
  write_safetensors(*out, {{"logits", DType::F32, {n, vocab}, logits.data()}},
                    {{"model", pos[0]}, {"model_type", lm.checkpoint.model_type}});
  log().info("wrote logits [{}, {}] to {}", n, vocab, *out);
  return 0;
}

ALLM_CLI_COMMAND(logits, "Write a model's logits at every position of a token sequence",
                 "Usage: allm logits MODEL --tokens 1,2,3 --out FILE.safetensors [--threads N]\n\n"
                 "Runs the token ids through the model in one forward pass and writes the\n"
                 "logits at every position as tensor 'logits' (F32, [n_tokens, vocab]) to a\n"
                 "safetensors file. MODEL is a checkpoint directory (or any file a loader claims).\n\n"
                 "  --tokens IDS         comma-separated token ids (required)\n"
                 "  --out FILE           output .safetensors file (required)\n"
                 "  --threads N          compute threads (default: physical cores)\n",
                 run_logits)

}  // namespace allm::cli
