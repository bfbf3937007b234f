// allm config [show] [--json]: every effective key and the layer it came from.
#include <iostream>

#include <nlohmann/json.hpp>

#include "allm/error.hpp"
#include "command.hpp"
#include "context.hpp"

namespace allm::cli {

// API keys (providers.<name>.api_key) are shown as set or not, never printed;
// of extra headers (providers.<name>.headers, often credentials) only the names.
static bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() > suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

static nlohmann::json shown_value(const std::string& key, const nlohmann::json& value) {
  if (ends_with(key, ".api_key") && value.is_string() && !value.get<std::string>().empty()) return "(set, hidden)";
  if (ends_with(key, ".headers") && value.is_array()) {
    nlohmann::json names = nlohmann::json::array();
    for (const auto& h : value) {
      const std::string text = h.is_string() ? h.get<std::string>() : "";
      names.push_back(text.substr(0, text.find(':')) + ": (hidden)");
    }
    return names;
  }
  return value;
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
