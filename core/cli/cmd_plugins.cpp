// allm plugins [list|info NAME] [--json]
#include <iostream>
#include <set>

#include <nlohmann/json.hpp>

#include "allm/checkpoint_loader.hpp"
#include "allm/error.hpp"
#include "allm/host/plugin_metadata.hpp"
#include "allm/media.hpp"
#include "allm/registry.hpp"
#include "command.hpp"
#include "context.hpp"
#include "remote_providers.hpp"

namespace allm::cli {

// A media handler is chosen per file by its own MediaHandler::score(), not by
// the component score it registered with (which only says whether it runs
// here: 0 = not registered), and a checkpoint loader by what it accepts. So
// for those show what files they take.
static std::string media_handler_summary(const host::ComponentRecord& c) {
  if (!c.active) return "";
  try {
    if (c.kind == "media_handler")
      if (const MediaHandler* h = Registry::instance().media_handler(c.name)) return h->describe();
    if (c.kind == "checkpoint_loader")
      if (const CheckpointLoader* l = Registry::instance().checkpoint_loader(c.name)) return l->describe();
  } catch (const std::exception& e) {
    return std::string("(describe() threw: ") + e.what() + ")";
  }
  return "";
}

static nlohmann::json plugin_json(const host::PluginRecord& p) {
  nlohmann::json j = {{"path", p.path.string()},
                      {"found_via", p.search_source},
                      {"status", p.loaded ? "loaded" : "failed"}};
  if (!p.loaded) {
    j["reason"] = p.reason;
    return j;
  }
  j["name"] = p.name;
  j["version"] = p.version;
  j["description"] = p.description;
  j["sdk_version"] = p.sdk_version;
  j["abi"] = std::to_string(p.abi_major) + "." + std::to_string(p.abi_minor);
  nlohmann::json comps = nlohmann::json::array();
  std::set<std::string> kinds;
  for (auto& c : p.components) {
    nlohmann::json cj = {{"kind", c.kind}, {"name", c.name}, {"score", c.score}, {"active", c.active}};
    if (!c.note.empty()) cj["note"] = c.note;
    if (auto handles = media_handler_summary(c); !handles.empty()) cj["handles"] = handles;
    comps.push_back(cj);
    kinds.insert(c.kind);
  }
  j["kinds"] = kinds;
  j["components"] = comps;
  return j;
}

static void print_plugin(const host::PluginRecord& p, bool details) {
  if (!p.loaded) {
    std::cout << "FAILED  " << p.path.string() << "\n        " << p.reason << "\n";
    return;
  }
  std::cout << p.name << " " << p.version << "  (" << p.path.string() << ", via " << p.search_source << ")\n";
  if (details && !p.description.empty()) std::cout << "  " << p.description << "\n";
  for (auto& c : p.components) {
    std::cout << "  " << c.kind << " " << c.name;
    const std::string handles = media_handler_summary(c);
    if (!handles.empty()) std::cout << ": " << handles;
    if (details && !handles.empty())
      std::cout << "\n    (picked per file by its MediaHandler::score(); registered with component score " << c.score
                << ")";
    else if (details)
      std::cout << " (score " << c.score << ")";
    if (!c.active) std::cout << "  [inactive: " << c.note << "]";
    std::cout << "\n";
    if (details && c.active && c.kind == "provider" && c.name != "local") {
      const auto st = remote_provider_status(c.name, false);
      if (!st["configured"].get<bool>()) {
        std::cout << "    not configured: " << st["reason"].get<std::string>() << "\n";
      } else {
        const auto& info = st["capabilities"]["model_info"];
        std::cout << "    " << st["base_url"].get<std::string>() << ", key " << st["api_key"].get<std::string>()
                  << "\n    parameters: " << info["parameters"].dump()
                  << "\n    not in this API: " << info["unsupported_parameters"].dump()
                  << "\n    models: allm models list --remote\n";
      }
    }
  }
}

static int run_plugins(Args& args) {
  bool json = args.flag("json");
  auto pos = args.positionals();
  args.finish();
  std::string action = pos.empty() ? "list" : pos[0];
  if (action == "inspect") {
    // Reads the file's metadata section only: the plugin is not loaded.
    if (pos.size() != 2) throw InvalidArgumentError("usage: allm plugins inspect FILE");
    auto meta = host::read_plugin_metadata(pos[1]);
    if (json) {
      std::cout << nlohmann::json(meta).dump(2) << "\n";
    } else {
      for (auto& [k, v] : meta) std::cout << k << ": " << v << "\n";
    }
    return 0;
  }
  const auto& loader = host().plugins();

  if (action == "list") {
    if (pos.size() > 1) throw InvalidArgumentError("allm plugins list takes no arguments");
    if (json) {
      nlohmann::json out = {{"search_dirs", nlohmann::json::array()}, {"plugins", nlohmann::json::array()}};
      for (auto& d : loader.searched()) out["search_dirs"].push_back({{"path", d.path.string()}, {"source", d.source}});
      for (auto& p : loader.plugins()) out["plugins"].push_back(plugin_json(p));
      std::cout << out.dump(2) << "\n";
      return 0;
    }
    std::cout << "Search order:\n";
    for (auto& d : loader.searched()) std::cout << "  " << d.path.string() << "  (" << d.source << ")\n";
    std::cout << "\nPlugins:\n";
    for (auto& p : loader.plugins()) print_plugin(p, false);
    return 0;
  }
  if (action == "info") {
    if (pos.size() != 2) throw InvalidArgumentError("usage: allm plugins info NAME");
    for (auto& p : loader.plugins()) {
      if (p.name == pos[1] || p.path.filename() == pos[1] || p.path.stem() == pos[1]) {
        if (json)
          std::cout << plugin_json(p).dump(2) << "\n";
        else
          print_plugin(p, true);
        return 0;
      }
    }
    throw InvalidArgumentError("no plugin named '" + pos[1] + "' (see allm plugins list)");
  }
  throw InvalidArgumentError("unknown action '" + action + "' (expected list, info or inspect)");
}

ALLM_CLI_COMMAND(plugins, "List the plugins found and what they register",
                 "Usage: allm plugins [list|info NAME|inspect FILE] [--json]\n\n"
                 "Lists every plugin file found in the search order (shown first), with\n"
                 "its components, version and path; a plugin that failed to load is listed\n"
                 "with the reason. 'info NAME' shows one plugin (by name or file name).\n"
                 "'inspect FILE' reads a plugin file's metadata (name, version, ABI, SDK,\n"
                 "toolchain) from its .allm_plugin section without loading or running it.\n"
                 "A media handler is listed with the files it takes: which handler loads an\n"
                 "attachment is decided per file by each handler's score() (docs/media.md).\n\n"
                 "  --json    print JSON instead of text",
                 run_plugins)

}  // namespace allm::cli
