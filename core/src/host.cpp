#include "allm/host/host.hpp"

namespace allm::host {

Host::Host(HostOptions options) : options_(std::move(options)), config_(Config::load(options_.config)) {}

std::vector<SearchDir> Host::search_dirs() const {
  std::vector<std::filesystem::path> config_dirs;
  for (auto& d : config_.at("plugin_dirs")) config_dirs.emplace_back(d.get<std::string>());
  return plugin_search_dirs(options_.plugin_dirs, config_dirs);
}

const PluginLoader& Host::plugins() {
  if (!loader_) {
    loader_ = std::make_unique<PluginLoader>(Registry::instance());
    loader_->load_all(search_dirs());
  }
  return *loader_;
}

}  // namespace allm::host
