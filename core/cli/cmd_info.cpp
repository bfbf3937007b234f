// allm info [--json]: platform detection and what the host can use.
#include <iostream>

#include <nlohmann/json.hpp>

#include "allm/byte_size.hpp"
#include "allm/backend.hpp"
#include "allm/error.hpp"
#include "allm/host/platform.hpp"
#include "allm/provider.hpp"
#include "allm/registry.hpp"
#include "allm/version.hpp"
#include "command.hpp"
#include "context.hpp"
#include "remote_providers.hpp"

namespace allm::cli {


static int run_info(Args& args) {
  bool json = args.flag("json");
  args.finish();
  auto p = host::detect_platform();
  const auto& loader = host().plugins();
  nlohmann::json providers = nlohmann::json::array(), architectures = nlohmann::json::array();
  nlohmann::json provider_status = nlohmann::json::object();
  for (auto& e : Registry::instance().list(ALLM_KIND_PROVIDER)) {
    providers.push_back(e.name);
    if (e.name == "local") continue;
    // Configured: creatable from the config (base URL, and a key where its
    // default endpoint needs one). No request is sent.
    provider_status[e.name] = remote_provider_status(e.name, false);
    provider_status[e.name].erase("capabilities");
  }
  for (auto& e : Registry::instance().list(ALLM_KIND_ARCHITECTURE)) architectures.push_back(e.name);
  // Compute backends, best first: what a model would run on (score 0: unusable, and why).
  nlohmann::json backends = nlohmann::json::array();
  for (const BackendStatus& b : list_backends())
    backends.push_back({{"name", b.name}, {"score", b.probe.score}, {"usable", b.probe.score > 0},
                        {"reason", b.probe.reason}, {"plugin", b.plugin}});
  nlohmann::json dirs = nlohmann::json::array();
  for (auto& d : loader.searched()) dirs.push_back({{"path", d.path.string()}, {"source", d.source}});

  nlohmann::json j = {{"version", ALLM_SDK_VERSION},
                      {"os", p.os},
                      {"arch", p.arch},
                      {"cpu_model", p.cpu_model},
                      {"logical_cores", p.logical_cores},
                      {"physical_cores", p.physical_cores},
                      {"simd", p.simd},
                      {"total_memory_bytes", p.total_memory_bytes},
                      {"available_memory_bytes", p.available_memory_bytes},
                      {"apple_silicon", p.apple_silicon},
                      {"plugin_dirs", dirs},
                      {"providers", providers},
                      {"remote_providers", provider_status},
                      {"architectures", architectures},
                      {"backends", backends}};
  if (json) {
    std::cout << j.dump(2) << "\n";
    return 0;
  }
  std::cout << "allm " << ALLM_SDK_VERSION << "\n"
            << "OS:             " << p.os << " (" << p.arch << ")\n"
            << "CPU:            " << p.cpu_model << "\n"
            << "Cores:          " << p.physical_cores << " physical, " << p.logical_cores << " logical\n"
            << "SIMD:           ";
  for (size_t i = 0; i < p.simd.size(); ++i) std::cout << (i ? " " : "") << p.simd[i];
  std::cout << "\nMemory:         " << byte_size_text(p.total_memory_bytes) << " total, " << byte_size_text(p.available_memory_bytes)
            << " available\n"
            << "Apple Silicon:  " << (p.apple_silicon ? "yes" : "no") << "\nPlugin dirs:\n";
  for (auto& d : loader.searched()) std::cout << "  " << d.path.string() << "  (" << d.source << ")\n";
  std::cout << "Providers:      " << (providers.empty() ? "(none)" : "");
  for (size_t i = 0; i < providers.size(); ++i) std::cout << (i ? ", " : "") << providers[i].get<std::string>();
  for (auto& [name, st] : provider_status.items())
    std::cout << "\n  " << name << ": "
              << (st["configured"].get<bool>()
                      ? st["base_url"].get<std::string>() + ", key " + st["api_key"].get<std::string>()
                      : "not configured: " + st["reason"].get<std::string>());
  std::cout << "\nArchitectures:  " << (architectures.empty() ? "(none)" : "");
  for (size_t i = 0; i < architectures.size(); ++i)
    std::cout << (i ? ", " : "") << architectures[i].get<std::string>();
  std::cout << "\nBackends:       " << (backends.empty() ? "(none: the built-in CPU backend)" : "");
  for (const auto& b : backends)
    std::cout << "\n  " << b["name"].get<std::string>() << ": "
              << (b["usable"].get<bool>() ? "score " + std::to_string(b["score"].get<int>()) : std::string("unusable"))
              << (b["reason"].get<std::string>().empty() ? "" : " (" + b["reason"].get<std::string>() + ")");
  std::cout << "\n";
  return 0;
}

ALLM_CLI_COMMAND(info, "Show the platform, usable SIMD, memory and plugin directories",
                 "Usage: allm info [--json]\n\n"
                 "Detects the OS, CPU model, core counts, the SIMD instruction sets the CPU\n"
                 "and OS actually allow (SSE/AVX2/AVX-512/NEON), memory, whether this is\n"
                 "Apple Silicon, the plugin directories searched, the providers and\n"
                 "architectures available, and the compute backends with their scores (the\n"
                 "highest usable one runs models unless --backend or config backend names one;\n"
                 "an unusable one says why).\n\n"
                 "  --json    print JSON instead of text",
                 run_info)

}  // namespace allm::cli
