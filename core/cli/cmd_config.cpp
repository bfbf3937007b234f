// allm config [show] [--json]: every effective key and the layer it came from.
#include <iostream>

#include <nlohmann/json.hpp>

#include "allm/error.hpp"
#include "command.hpp"
#include "context.hpp"

namespace allm::cli {

// API keys (providers.<name>.api_key) are shown as set or not, never printed.
static nlohmann::json shown_value(const std::string& key, const nlohmann::json& value) {
  const std::string suffix = ".api_key";
  const bool secret = key.size() > suffix.size() && key.compare(key.size() - suffix.size(), suffix.size(), suffix) == 0;
  if (!secret || !value.is_string() || value.get<std::string>().empty()) return value;
  return "(set, hidden)";
}

static int run_config(Args& args) {
  bool json = args.flag("json");
  auto pos = args.positionals();
  args.finish();
  // Like `models` and `plugins`, the command alone does its one listing.
  if (pos.size() > 1 || (!pos.empty() && pos[0] != "show"))
    throw InvalidArgumentError("usage: allm config [show] [--json] (unknown action '" + pos[0] + "')");
  const auto& config = host().config();
  if (json) {
    nlohmann::json out = nlohmann::json::object();
    for (auto& k : config.keys()) out[k] = {{"value", shown_value(k, config.at(k))}, {"origin", config.origin(k)}};
    std::cout << out.dump(2) << "\n";
    return 0;
  }
  for (auto& f : config.config_files_read()) std::cout << "# read " << f.string() << "\n";
  for (auto& k : config.keys()) std::cout << k << " = " << shown_value(k, config.at(k)).dump() << "    # " << config.origin(k) << "\n";
  return 0;
}

ALLM_CLI_COMMAND(config, "Show the effective configuration and where each value came from",
                 "Usage: allm config [show] [--json]\n\n"
                 "Layers, lowest first: built-in defaults (config/allm.json) < system config\n"
                 "(/etc/allm/config.json or $ALLM_SYSTEM_CONFIG) < user config\n"
                 "(~/.config/allm/config.json, $XDG_CONFIG_HOME, $ALLM_CONFIG or --config) <\n"
                 "environment (ALLM_<KEY>, dots as underscores, e.g. ALLM_GENERATION_TEMPERATURE)\n"
                 "< command-line flags.",
                 run_config)

}  // namespace allm::cli
