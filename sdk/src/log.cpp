#include "allm/log.hpp"

#include <spdlog/sinks/stdout_color_sinks.h>

#include "allm/error.hpp"

namespace allm {

spdlog::logger& log() {
  // Results go to stdout; diagnostics always to stderr.
  static std::shared_ptr<spdlog::logger> logger = [] {
    auto l = spdlog::stderr_color_mt("allm");
    l->set_pattern("%^[%l]%$ %v");
    l->set_level(spdlog::level::warn);
    return l;
  }();
  return *logger;
}

void set_log_level(const std::string& level) {
  auto parsed = spdlog::level::from_str(level);
  // from_str maps unknown names to "off"; only accept "off" when it was asked for.
  if (parsed == spdlog::level::off && level != "off") {
    throw InvalidArgumentError("unknown log level '" + level +
                               "' (expected trace, debug, info, warn, error, critical or off)");
  }
  log().set_level(parsed);
}

}  // namespace allm
