// allm embed MODEL [TEXT...] [--json] [--dimensions N] [--prompt-name NAME] [--threads T]
#include <iostream>
#include <iterator>

#include <nlohmann/json.hpp>

#include "command.hpp"
#include "engine_cli.hpp"
#include "generation_cli.hpp"

namespace allm::cli {

static int run_embed(Args& args) {
  const bool json = args.flag("json");
  const bool no_truncate = args.flag("no-truncate");
  const auto dimensions = args.integer("dimensions");
  const auto prompt_name = args.value("prompt-name");
  const int threads = thread_option(args);
  auto pos = args.positionals();
  args.finish();
  if (pos.empty()) throw InvalidArgumentError("usage: allm embed MODEL [TEXT...] (see --help)");

  EmbedRequest request;
  request.texts.assign(pos.begin() + 1, pos.end());
  if (request.texts.empty())  // one text from stdin, byte for byte
    request.texts.emplace_back(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
  if (dimensions) request.dimensions = *dimensions;
  request.truncate = !no_truncate;
  request.prompt_name = prompt_name.value_or("");

  nlohmann::json options = nlohmann::json::object();
  if (threads) options["threads"] = threads;
  auto provider = make_local_provider(choose_model(pos[0]), options);
  const EmbedResponse r = provider->embed(request);

  if (json) {  // the OpenAI embeddings response
    nlohmann::json data = nlohmann::json::array();
    for (size_t i = 0; i < r.embeddings.size(); ++i)
      data.push_back({{"object", "embedding"}, {"index", i}, {"embedding", r.embeddings[i]}});
    nlohmann::json out = {{"object", "list"},
                          {"data", data},
                          {"model", r.model},
                          {"usage", {{"prompt_tokens", r.prompt_tokens}, {"total_tokens", r.prompt_tokens}}}};
    std::cout << out.dump() << "\n";
    return 0;
  }
  // One vector a line, values separated by spaces (full float precision).
  for (const auto& v : r.embeddings) {
    for (size_t i = 0; i < v.size(); ++i) std::cout << (i ? " " : "") << nlohmann::json(v[i]).dump();
    std::cout << "\n";
  }
  return 0;
}

ALLM_CLI_COMMAND(embed, "Embed texts with an embedding model (sentence-transformers layout)",
                 "Usage: allm embed MODEL [TEXT...] [--json] [--dimensions N] [--prompt-name NAME]\n"
                 "                  [--no-truncate] [--threads T]\n\n"
                 "Prints one embedding vector per TEXT (one line each, values separated by\n"
                 "spaces); without TEXT, embeds stdin as one text. MODEL resolves like\n"
                 "`allm run` (directory, Hugging Face cache id) and must be in the\n"
                 "sentence-transformers layout: modules.json with a Transformer, a Pooling\n"
                 "(1_Pooling/config.json: cls, mean, max, mean_sqrt_len_tokens, weightedmean,\n"
                 "lasttoken) and optionally a Normalize module, e.g. Qwen3-Embedding.\n"
                 "Otherwise the command fails with exit code 6 (unsupported).\n\n"
                 "  --json              print the OpenAI embeddings response shape\n"
                 "                      ({\"object\": \"list\", \"data\": [{\"embedding\": ...}], ...})\n"
                 "  --dimensions N      keep the first N values (Matryoshka), normalised again\n"
                 "                      when the model normalises\n"
                 "  --prompt-name NAME  prepend the model's prompt NAME (config_sentence_\n"
                 "                      transformers.json \"prompts\", e.g. query); default: the\n"
                 "                      model's default_prompt_name, if any\n"
                 "  --no-truncate       a text longer than the model's max_seq_length is an error\n"
                 "                      (exit 7) instead of being cut\n"
                 "  --threads T         compute threads",
                 run_embed)

}  // namespace allm::cli
