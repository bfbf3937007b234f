// allm tokenize SOURCE [TEXT] [--add-special-tokens] [--json] | --jsonl FILE
#include <cerrno>
#include <cstring>
#include <fstream>
#include <iostream>
#include <iterator>

#include <nlohmann/json.hpp>

#include "command.hpp"
#include "tokenizer_source.hpp"
#include "allm/json_depth.hpp"

namespace allm::cli {

// One JSON object per input line ({"text": ...}) -> one per output line, with
// the fields of the reference fixtures.
static int tokenize_jsonl(const Tokenizer& tok, const std::string& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) throw IoError(file + ": cannot open for reading: " + std::strerror(errno));
  std::string line;
  for (size_t line_no = 1; std::getline(in, line); ++line_no) {
    if (line.empty() || line == "\r") continue;
    nlohmann::json input;
    if (std::string depth = json_depth_error(line); !depth.empty())
      throw InvalidArgumentError(file + ":" + std::to_string(line_no) + ": " + depth);
    try {
      input = nlohmann::json::parse(line);
    } catch (const nlohmann::json::parse_error& e) {
      throw InvalidArgumentError(file + ":" + std::to_string(line_no) + ": malformed JSON: " + e.what());
    }
    if (!input.is_object() || !input.contains("text") || !input["text"].is_string())
      throw InvalidArgumentError(file + ":" + std::to_string(line_no) + ": expected an object with a string \"text\"");
    const std::string& text = input["text"].get_ref<const std::string&>();
    std::vector<TokenId> ids;
    try {
      ids = tok.encode(text, false);
    } catch (const TokenizerError& e) {
      throw TokenizerError(file + ":" + std::to_string(line_no) + ": " + e.what());
    }
    nlohmann::json out = {{"ids", ids},
                          {"ids_with_special_tokens", tok.encode(text, true)},
                          {"decoded", tok.decode(ids, false)},
                          {"decoded_skip_special", tok.decode(ids, true)}};
    std::cout << out.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
  }
  return 0;
}

static int run_tokenize(Args& args) {
  bool add_special = args.flag("add-special-tokens");
  bool json = args.flag("json");
  auto jsonl = args.value("jsonl");
  auto pos = args.positionals();
  args.finish();
  if (pos.empty() || pos.size() > 2) throw InvalidArgumentError("usage: allm tokenize SOURCE [TEXT] (see --help)");
  if (jsonl && pos.size() > 1) throw InvalidArgumentError("--jsonl reads its texts from FILE: give no TEXT");

  auto tok = load_tokenizer(pos[0]);
  if (jsonl) return tokenize_jsonl(*tok, *jsonl);

  std::string text;
  if (pos.size() == 2)
    text = pos[1];
  else
    text.assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
  auto ids = tok->encode(text, add_special);
  if (json) {
    nlohmann::json tokens = nlohmann::json::array();
    for (TokenId id : ids) tokens.push_back(tok->id_to_token(id).value_or(""));
    nlohmann::json out = {{"ids", ids}, {"tokens", tokens}};
    std::cout << out.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
    return 0;
  }
  for (size_t i = 0; i < ids.size(); ++i) std::cout << (i ? " " : "") << ids[i];
  std::cout << "\n";
  return 0;
}

ALLM_CLI_COMMAND(tokenize, "Encode text into token ids with a model's tokenizer",
                 "Usage: allm tokenize SOURCE [TEXT] [--add-special-tokens] [--json]\n"
                 "       allm tokenize SOURCE --jsonl FILE\n\n"
                 "Encodes TEXT (read from stdin, byte for byte, when omitted) with the tokenizer\n"
                 "of SOURCE: a model directory, a tokenizer.json file, or a directory holding\n"
                 "one. Prints the ids separated by spaces. Text must be valid UTF-8; otherwise\n"
                 "the command fails (exit code 8) naming the byte offset of the first bad byte.\n\n"
                 "  --add-special-tokens  run the post-processor (adds e.g. BOS, as the model's\n"
                 "                        tokenizer does for a fresh prompt)\n"
                 "  --json                print {\"ids\": [...], \"tokens\": [...]} instead\n"
                 "  --jsonl FILE          batch mode: each line of FILE is a JSON object with a\n"
                 "                        \"text\"; prints one JSON object a line with \"ids\",\n"
                 "                        \"ids_with_special_tokens\", \"decoded\" and\n"
                 "                        \"decoded_skip_special\" (the last two decode \"ids\")\n\n"
                 "The tokenizer comes from the tokenizer plugin registered as \"hf\".",
                 run_tokenize)

}  // namespace allm::cli
