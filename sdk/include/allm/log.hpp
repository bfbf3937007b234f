#pragma once
// One logger for host and plugins. It lives in liballm-sdk.so, so every plugin
// linked against the SDK writes through the same sink and level (stderr only:
// stdout carries results).
#include <spdlog/spdlog.h>

namespace allm {

spdlog::logger& log();
void set_log_level(const std::string& level);  // trace|debug|info|warn|error|critical|off

}  // namespace allm
