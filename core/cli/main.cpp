// allm — the host CLI. Parses the common options, builds the host, then hands
// the rest of the command line to the subcommand.
#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <memory>
#include <new>

#include "allm/error.hpp"
#include "allm/log.hpp"
#include "allm/version.hpp"
#include "command.hpp"
#include "context.hpp"

namespace allm::cli {

static std::unique_ptr<host::Host> g_host;

host::Host& host() {
  if (!g_host) throw Error(ErrorCode::internal, "host used before it was created");
  return *g_host;
}

static void print_usage(std::ostream& out) {
  out << "allm " << ALLM_SDK_VERSION << " — run large language models locally\n\n"
      << "Usage: allm [common options] COMMAND [options]\n\nCommands:\n";
  for (auto& c : commands()) {
    out << "  " << c.name;
    for (size_t i = c.name.size(); i < 14; ++i) out << ' ';
    out << c.summary << "\n";
  }
  out << "\n" << kCommonOptionsHelp
      << "  --version            print the version\n\n"
      << "Run 'allm COMMAND --help' for a command's options. Exit codes: docs/cli.md.\n";
}

// Pulls the options every command shares out of argv.
struct CommonOptions {
  host::HostOptions host;
  std::string log_level;
  int verbosity = 0;
  bool help = false;
};

static CommonOptions take_common_options(Args& args) {
  CommonOptions o;
  for (auto& d : args.values("plugin-dir")) {
    std::error_code ec;
    if (!std::filesystem::is_directory(d, ec))
      throw InvalidArgumentError("--plugin-dir " + d + ": " +
                                 (std::filesystem::exists(d, ec) ? "not a directory" : "no such directory"));
    o.host.plugin_dirs.emplace_back(d);
  }
  if (auto f = args.value("config")) o.host.config.user_file = *f;
  if (auto l = args.value("log-level")) o.log_level = *l;
  while (args.flag("verbose")) o.verbosity++;
  o.help = args.flag("help");
  return o;
}

static int run(int argc, char** argv) {
  std::vector<std::string> rest(argv + 1, argv + argc);
  // Split off the command name: the first argument that is not an option or an option's value.
  // Only common options may come before it: anything else there is reported
  // as such, not as an unknown option of the command.
  std::string name;
  size_t name_at = rest.size();
  for (size_t i = 0; i < rest.size(); ++i) {
    const auto& a = rest[i];
    if (a == "--plugin-dir" || a == "--config" || a == "--log-level") {
      ++i;
      continue;
    }
    if (a.empty() || a[0] != '-') {
      name = a;
      name_at = i;
      break;
    }
    const std::string option = a.substr(0, a.find('='));
    static const char* kBeforeCommand[] = {"--plugin-dir", "--config", "--log-level", "--verbose", "-v", "-vv",
                                           "--help",       "-h",       "--version"};
    if (std::find(std::begin(kBeforeCommand), std::end(kBeforeCommand), option) == std::end(kBeforeCommand))
      throw InvalidArgumentError("'" + a + "' before the command is not a common option (common options: " +
                                 "--plugin-dir, --config, --log-level, -v, -h, --version); put a command's " +
                                 "options after the command, e.g. allm run " + a + " ...");
  }
  if (name_at < rest.size()) rest.erase(rest.begin() + static_cast<long>(name_at));
  // -v / -vv are short forms of --verbose.
  for (auto& a : rest) {
    if (a == "-v") a = "--verbose";
    if (a == "-h") a = "--help";
  }
  std::vector<std::string> expanded;
  for (auto& a : rest) {
    if (a == "-vv") {
      expanded.push_back("--verbose");
      expanded.push_back("--verbose");
    } else {
      expanded.push_back(a);
    }
  }

  if (name.empty()) {
    for (auto& a : expanded) {
      if (a == "--version") {
        std::cout << "allm " << ALLM_SDK_VERSION << " (plugin ABI " << ALLM_ABI_MAJOR << "." << ALLM_ABI_MINOR
                  << ")\n";
        return 0;
      }
    }
    bool help = false;
    for (auto& a : expanded) help |= a == "--help";
    print_usage(help ? std::cout : std::cerr);
    return help ? 0 : static_cast<int>(ErrorCode::invalid_argument);
  }

  const Command* command = nullptr;
  for (auto& c : commands())
    if (c.name == name) command = &c;
  if (!command) throw InvalidArgumentError("unknown command '" + name + "' (see allm --help)");

  Args args(name, expanded);
  auto common = take_common_options(args);
  if (common.help) {
    std::cout << command->help << "\n\n" << kCommonOptionsHelp;
    return 0;
  }

  g_host = std::make_unique<host::Host>(common.host);
  // Log level: flag > config (which already folds in ALLM_LOG_LEVEL).
  std::string level = g_host->config().at("log_level").get<std::string>();
  if (!common.log_level.empty()) level = common.log_level;
  if (common.verbosity == 1) level = "debug";
  if (common.verbosity >= 2) level = "trace";
  set_log_level(level);

  return command->run(args);
}

}  // namespace allm::cli

int main(int argc, char** argv) {
  try {
    return allm::cli::run(argc, argv);
  } catch (const allm::Error& e) {
    std::cerr << "allm: " << allm::error_code_name(e.code()) << ": " << e.what() << "\n";
    return static_cast<int>(e.code());
  } catch (const std::bad_alloc&) {
    // Whatever ran out of memory without saying what it loaded still gets
    // the documented exit code, not "internal error".
    std::cerr << "allm: " << allm::error_code_name(allm::ErrorCode::out_of_memory) << ": out of memory\n";
    return static_cast<int>(allm::ErrorCode::out_of_memory);
  } catch (const std::exception& e) {
    std::cerr << "allm: internal error: " << e.what() << "\n";
    return static_cast<int>(allm::ErrorCode::internal);
  }
}
