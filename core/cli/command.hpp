#pragma once
// The CLI's subcommand table. Each subcommand lives in its own cmd_*.cpp and
// registers itself with ALLM_CLI_COMMAND; main.cpp only dispatches.
//
//   static int run_tokenize(allm::cli::Args& args) { ... return 0; }
//   ALLM_CLI_COMMAND(tokenize, "Encode text with a model's tokenizer",
//                    "allm tokenize SOURCE [TEXT] [--add-special-tokens] [--json]\n...",
//                    run_tokenize)
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace allm::cli {

// Parsed command line of one subcommand: `--name value`, `--name=value`,
// boolean `--flag`, repeatable options, and positionals. Any option the
// command did not ask about is an error (reported by `finish()`).
class Args {
 public:
  Args(std::string command, std::vector<std::string> argv);

  const std::string& command() const { return command_; }
  // A boolean flag (`--json`). Also accepts `--json=true|false`.
  bool flag(const std::string& name);
  // A valued option; nullopt when absent. `short_name` like "-n" is optional.
  std::optional<std::string> value(const std::string& name, const std::string& short_name = "");
  // Every occurrence of a repeatable valued option, in order.
  std::vector<std::string> values(const std::string& name, const std::string& short_name = "");
  std::optional<double> number(const std::string& name);
  std::optional<long long> integer(const std::string& name);
  // Positionals left after all options were consumed.
  std::vector<std::string> positionals();
  // How many of positionals() came before a `--` (all of them without one).
  size_t positionals_before_dashdash() const { return before_dashdash_; }
  // Throws InvalidArgumentError on any option nobody consumed.
  void finish();

 private:
  struct Token {
    std::string text;
    bool used = false;
  };
  std::string command_;
  std::vector<Token> tokens_;
  bool positionals_taken_ = false;
  size_t before_dashdash_ = 0;
};

struct Command {
  std::string name;
  std::string summary;  // one line, shown by `allm --help`
  std::string help;     // full text, shown by `allm NAME --help`
  std::function<int(Args&)> run;
};

std::vector<Command>& commands();
struct CommandRegistrar {
  explicit CommandRegistrar(Command c) { commands().push_back(std::move(c)); }
};

// Options every subcommand understands (handled before dispatch).
inline constexpr const char* kCommonOptionsHelp =
    "Common options:\n"
    "  --plugin-dir DIR     search DIR for plugins first (repeatable)\n"
    "  --config FILE        read FILE as the user config layer\n"
    "  --log-level LEVEL    trace|debug|info|warn|error|critical|off\n"
    "  -v, --verbose        same as --log-level debug (twice: trace)\n"
    "  -h, --help           show help\n";

}  // namespace allm::cli

#define ALLM_CLI_CONCAT2(a, b) a##b
#define ALLM_CLI_CONCAT(a, b) ALLM_CLI_CONCAT2(a, b)
#define ALLM_CLI_COMMAND(NAME, SUMMARY, HELP, FN) \
  static ::allm::cli::CommandRegistrar ALLM_CLI_CONCAT(allm_cli_cmd_, NAME){{#NAME, SUMMARY, HELP, FN}};
