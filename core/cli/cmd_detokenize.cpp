// allm detokenize SOURCE IDS [--skip-special-tokens]
#include <cctype>
#include <climits>
#include <iostream>

#include "command.hpp"
#include "tokenizer_source.hpp"

namespace allm::cli {

// "1,2, 3" -> {1, 2, 3}; commas and/or whitespace separate.
static std::vector<TokenId> parse_ids(const std::string& list) {
  std::vector<TokenId> ids;
  size_t i = 0;
  while (i < list.size()) {
    if (list[i] == ',' || std::isspace(static_cast<unsigned char>(list[i]))) {
      ++i;
      continue;
    }
    size_t end = list.find_first_of(", \t\n\r", i);
    if (end == std::string::npos) end = list.size();
    std::string item = list.substr(i, end - i);
    size_t used = 0;
    long long value = -1;
    try {
      value = std::stoll(item, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used != item.size() || value < 0 || value > INT32_MAX)
      throw InvalidArgumentError("IDS: '" + item + "' at character " + std::to_string(i) + " is not a token id");
    ids.push_back(static_cast<TokenId>(value));
    i = end;
  }
  return ids;
}

static int run_detokenize(Args& args) {
  bool skip_special = args.flag("skip-special-tokens");
  auto pos = args.positionals();
  args.finish();
  if (pos.size() != 2) throw InvalidArgumentError("usage: allm detokenize SOURCE IDS (see --help)");
  auto ids = parse_ids(pos[1]);
  auto tok = load_tokenizer(pos[0]);
  std::cout << tok->decode(ids, skip_special) << "\n";
  return 0;
}

ALLM_CLI_COMMAND(detokenize, "Decode token ids back into text",
                 "Usage: allm detokenize SOURCE IDS [--skip-special-tokens]\n\n"
                 "Decodes IDS (comma separated, e.g. 9906,1917) with the tokenizer of SOURCE:\n"
                 "a model directory, a tokenizer.json file, or a directory holding one, and\n"
                 "prints the text followed by a newline. Unknown ids are skipped, as in HF\n"
                 "tokenizers; bytes that do not form valid UTF-8 print as U+FFFD.\n\n"
                 "  --skip-special-tokens  leave special tokens (BOS, <|im_end|>, ...) out",
                 run_detokenize)

}  // namespace allm::cli
