// Configuration layering and malformed config files.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>

#include "allm/error.hpp"
#include "allm/host/config.hpp"
#include "../common/temp_dir.hpp"

namespace fs = std::filesystem;
using allm::host::Config;
using allm::host::ConfigSources;
using allm::test::TempDir;

namespace {

ConfigSources isolated() {
  ConfigSources s;
  s.system_file = "/nonexistent/allm/system.json";
  s.user_file.reset();
  ::setenv("ALLM_CONFIG", "/nonexistent/allm/user.json", 1);
  return s;
}

std::string load_error(const ConfigSources& s) {
  try {
    Config::load(s);
  } catch (const allm::ConfigError& e) {
    return e.what();
  }
  return "(no error)";
}

}  // namespace

TEST(Config, BuiltinDefaultsComeFromConfigFile) {
  auto c = Config::load(isolated());
  EXPECT_EQ(c.at("max_cached_models").get<int>(), 2);
  EXPECT_DOUBLE_EQ(c.at("generation.temperature").get<double>(), 0.7);
  EXPECT_EQ(c.origin("generation.temperature"), "default");
}

TEST(Config, LayersOverrideInOrder) {
  auto s = isolated();
  TempDir tmp;
  s.system_file = tmp.write("system.json", R"({"threads": 3, "log_level": "info", "generation": {"top_k": 7}})");
  s.user_file = tmp.write("user.json", R"({"threads": 5, "generation": {"temperature": 0.2}})");
  ::setenv("ALLM_GENERATION_TEMPERATURE", "0.4", 1);
  ::setenv("ALLM_MAX_CACHED_MODELS", "4", 1);
  s.flags = {{"max_cached_models", "6"}};
  auto c = Config::load(s);
  ::unsetenv("ALLM_GENERATION_TEMPERATURE");
  ::unsetenv("ALLM_MAX_CACHED_MODELS");

  EXPECT_EQ(c.at("log_level"), "info");  // system
  EXPECT_NE(c.origin("log_level").find("system"), std::string::npos);
  EXPECT_EQ(c.at("generation.top_k"), 7);  // system, nested merge keeps siblings
  EXPECT_DOUBLE_EQ(c.at("generation.top_p").get<double>(), 0.95);  // default sibling
  EXPECT_EQ(c.at("threads"), 5);  // user beats system
  EXPECT_NE(c.origin("threads").find("user"), std::string::npos);
  EXPECT_DOUBLE_EQ(c.at("generation.temperature").get<double>(), 0.4);  // env beats user
  EXPECT_EQ(c.origin("generation.temperature"), "environment (ALLM_GENERATION_TEMPERATURE)");
  EXPECT_EQ(c.at("max_cached_models"), 6);  // flag beats env
  EXPECT_EQ(c.origin("max_cached_models"), "command line");
}

TEST(Config, MalformedJsonNamesFileLineAndColumn) {
  auto s = isolated();
  TempDir tmp;
  const fs::path file = tmp.write("bad.json", "{\n  \"threads\": 4,\n  \"log_level\": \"info\"\n  \"oops\": 1\n}\n");
  s.user_file = file;
  auto msg = load_error(s);
  EXPECT_NE(msg.find(file.string() + ":4:"), std::string::npos) << msg;
  EXPECT_NE(msg.find("malformed JSON"), std::string::npos) << msg;
}

TEST(Config, WrongTypeNamesFileLineAndKey) {
  auto s = isolated();
  TempDir tmp;
  const fs::path file = tmp.write("type.json", "{\n  \"generation\": {\n    \"temperature\": \"hot\"\n  }\n}\n");
  s.user_file = file;
  auto msg = load_error(s);
  EXPECT_NE(msg.find(file.string() + ":3: key 'generation.temperature' must be a number, not a string"),
            std::string::npos)
      << msg;
}

TEST(Config, UnknownKeyIsAnError) {
  auto s = isolated();
  TempDir tmp;
  s.user_file = tmp.write("unknown.json", "{\"treads\": 4}");
  auto msg = load_error(s);
  EXPECT_NE(msg.find("key 'treads' is not a known setting"), std::string::npos) << msg;
}

TEST(Config, BadEnvironmentValueIsAnError) {
  ::setenv("ALLM_THREADS", "many", 1);
  auto msg = load_error(isolated());
  ::unsetenv("ALLM_THREADS");
  EXPECT_NE(msg.find("environment variable ALLM_THREADS must be an integer, got 'many'"), std::string::npos) << msg;
}

TEST(Config, ExplicitConfigFileMustExist) {
  auto s = isolated();
  s.user_file = "/nonexistent/explicit.json";
  EXPECT_NE(load_error(s).find("/nonexistent/explicit.json: config file not found"), std::string::npos);
}
