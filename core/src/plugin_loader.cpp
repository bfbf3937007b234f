#include "allm/host/plugin_loader.hpp"

#include <dlfcn.h>
#include <unistd.h>

#include <algorithm>
#include <cstddef>
#include <cstdlib>
#include <sstream>

#include "allm/log.hpp"
#include "allm/plugin.h"
#include "allm/version.hpp"

namespace allm::host {

namespace fs = std::filesystem;

fs::path user_plugin_dir() {
  const char* home = std::getenv("HOME");
  return home ? fs::path(home) / ".local" / "lib" / "allm" / "plugins" : fs::path();
}

fs::path install_plugin_dir() {
  std::error_code ec;
  auto exe = fs::read_symlink("/proc/self/exe", ec);
  if (ec) return {};
  return exe.parent_path().parent_path() / ALLM_PLUGIN_SUBDIR;
}

std::vector<SearchDir> plugin_search_dirs(const std::vector<fs::path>& flag_dirs,
                                          const std::vector<fs::path>& config_dirs) {
  std::vector<SearchDir> dirs;
  auto add = [&](const fs::path& p, const std::string& source) {
    if (p.empty()) return;
    std::error_code ec;
    fs::path norm = fs::weakly_canonical(p, ec);
    if (ec) norm = p;
    for (auto& d : dirs)
      if (d.path == norm) return;
    dirs.push_back({norm, source});
  };
  for (auto& d : flag_dirs) add(d, "--plugin-dir");
  if (const char* env = std::getenv("ALLM_PLUGIN_PATH")) {
    std::stringstream ss(env);
    std::string item;
    while (std::getline(ss, item, ':')) add(item, "ALLM_PLUGIN_PATH");
  }
  for (auto& d : config_dirs) add(d, "config plugin_dirs");
  add(user_plugin_dir(), "user");
  add(install_plugin_dir(), "install");
  return dirs;
}

void PluginLoader::load_all(const std::vector<SearchDir>& dirs) {
  for (auto& dir : dirs) {
    searched_.push_back(dir);
    std::error_code ec;
    if (!fs::is_directory(dir.path, ec)) {
      log().debug("plugin dir {} ({}): not present", dir.path.string(), dir.source);
      continue;
    }
    // Sorted, so the order inside one directory is deterministic.
    std::vector<fs::path> files;
    for (auto& entry : fs::directory_iterator(dir.path, ec))
      if (entry.path().extension() == ".so") files.push_back(entry.path());
    std::sort(files.begin(), files.end());
    for (auto& f : files) load_file(f, dir.source);
  }
}

static std::string checked_string(const char* s) { return s ? std::string(s) : std::string(); }

// Validates the descriptor; returns an empty string when it is usable.
static std::string validate(const allm_plugin_descriptor* d) {
  if (!d) return "entry point returned null";
  if (d->abi_major != ALLM_ABI_MAJOR)
    return "ABI major " + std::to_string(d->abi_major) + " does not match the host's " +
           std::to_string(ALLM_ABI_MAJOR);
  if (d->abi_minor > ALLM_ABI_MINOR)
    return "ABI minor " + std::to_string(d->abi_minor) + " is newer than the host's " +
           std::to_string(ALLM_ABI_MINOR);
  constexpr size_t needed = offsetof(allm_plugin_descriptor, components) + sizeof(d->components);
  if (d->struct_size < needed)
    return "descriptor struct_size " + std::to_string(d->struct_size) + " is smaller than " + std::to_string(needed);
  if (!d->name || !*d->name) return "descriptor has no name";
  if (!d->version || !*d->version) return "descriptor has no version";
  if (!d->toolchain || std::string(d->toolchain) != ALLM_TOOLCHAIN_ID)
    return "built with C++ library '" + checked_string(d->toolchain) + "', the host uses '" + ALLM_TOOLCHAIN_ID + "'";
  if (d->component_count == 0 || !d->components) return "descriptor registers no components";
  if (d->component_count > 4096) return "descriptor claims an absurd component count";
  for (uint32_t i = 0; i < d->component_count; ++i) {
    auto& c = d->components[i];
    std::string at = "component " + std::to_string(i);
    if (c.kind < ALLM_KIND_PROVIDER || c.kind > ALLM_KIND_CHECKPOINT_LOADER)
      return at + " has unknown kind " + std::to_string(c.kind);
    if (!c.name || !*c.name) return at + " has no name";
    if (!c.impl) return at + " ('" + c.name + "') has no implementation";
  }
  return {};
}

const PluginRecord& PluginLoader::load_file(const fs::path& file, const std::string& source) {
  PluginRecord rec;
  rec.path = file;
  rec.search_source = source;
  auto fail = [&](std::string reason) -> const PluginRecord& {
    rec.reason = std::move(reason);
    log().warn("plugin {} skipped: {}", file.string(), rec.reason);
    records_.push_back(std::move(rec));
    return records_.back();
  };

  dlerror();
  // Never dlclose()d: components may outlive any scope (docs/plugin-abi.md).
  void* handle = dlopen(file.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!handle) {
    std::string err = checked_string(dlerror());
    // dlerror() repeats the path; keep only the cause.
    auto pos = err.rfind(": ");
    return fail("not a loadable shared object (" + (pos == std::string::npos ? err : err.substr(pos + 2)) + ")");
  }
  dlerror();
  void* sym = dlsym(handle, ALLM_PLUGIN_ENTRY_SYMBOL);
  if (!sym) return fail(std::string("no entry symbol '") + ALLM_PLUGIN_ENTRY_SYMBOL + "'");

  const allm_plugin_descriptor* d = nullptr;
  try {
    d = reinterpret_cast<allm_plugin_entry_fn>(sym)();
  } catch (const std::exception& e) {
    return fail(std::string("entry point threw: ") + e.what());
  } catch (...) {
    return fail("entry point threw an unknown exception");
  }
  // The first three fields are read before anything else.
  if (d) {
    rec.abi_major = d->abi_major;
    rec.abi_minor = d->abi_minor;
  }
  if (auto problem = validate(d); !problem.empty()) return fail(problem);

  rec.name = d->name;
  rec.version = d->version;
  rec.description = checked_string(d->description);
  rec.sdk_version = checked_string(d->sdk_version);
  rec.toolchain = checked_string(d->toolchain);
  rec.loaded = true;

  for (uint32_t i = 0; i < d->component_count; ++i) {
    auto& c = d->components[i];
    auto kind = static_cast<allm_component_kind>(c.kind);
    ComponentRecord cr{component_kind_name(kind), c.name, c.score, false, {}};
    if (c.score <= 0) {
      cr.note = "score 0: cannot run on this machine";
    } else if (auto* existing = registry_.add({kind, c.name, c.score, c.impl, rec.name, file.string()})) {
      cr.note = "shadowed by " + existing->plugin + " (" + existing->path + ")";
      log().warn("{} '{}' from {} ignored: already registered by {} ({})", cr.kind, cr.name, file.string(),
                 existing->plugin, existing->path);
    } else {
      cr.active = true;
    }
    rec.components.push_back(std::move(cr));
  }
  log().info("plugin {} {} loaded from {} ({})", rec.name, rec.version, file.string(), source);
  records_.push_back(std::move(rec));
  return records_.back();
}

}  // namespace allm::host
