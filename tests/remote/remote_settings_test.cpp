// Where a remote provider's settings come from (options, config section,
// environment, defaults), what each API is sent for a request, and the SSE /
// NDJSON framing fed in arbitrary pieces.
#include <gtest/gtest.h>

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "allm/error.hpp"
#include "event_stream.hpp"
#include "remote_settings.hpp"
#include "remote_test_util.hpp"

namespace allm::test {
namespace {

using remote::EventStream;
using remote::resolve_settings;

struct EnvVar {
  std::string name;
  EnvVar(std::string n, const std::string& value) : name(std::move(n)) { setenv(name.c_str(), value.c_str(), 1); }
  ~EnvVar() { unsetenv(name.c_str()); }
};

TEST(RemoteSettings, OptionsBeatConfigBeatEnvironment) {
  EnvVar base("OPENAI_BASE_URL", "http://env.example/v1");
  EnvVar key("OPENAI_API_KEY", "env-key");
  const auto d = remote::openai_dialect().defaults();
  auto s = resolve_settings(d, nlohmann::json::object());
  EXPECT_EQ(s.base_url, "http://env.example/v1");
  EXPECT_EQ(s.api_key, "env-key");
  EXPECT_EQ(s.api_key_source, "$OPENAI_API_KEY");
  nlohmann::json config = {{"providers", {{"openai", {{"base_url", "http://cfg.example/v1/"}, {"api_key", "cfg-key"},
                                                      {"headers", {"X-Team: a"}}, {"timeout_s", 5}}}}}};
  s = resolve_settings(d, {{"config", config}});
  EXPECT_EQ(s.base_url, "http://cfg.example/v1");  // trailing slash dropped
  EXPECT_EQ(s.api_key, "cfg-key");
  EXPECT_EQ(s.headers, std::vector<std::string>{"X-Team: a"});
  EXPECT_EQ(s.timeout_s, 5);
  s = resolve_settings(d, {{"config", config}, {"base_url", "http://opt.example/v1"}});
  EXPECT_EQ(s.base_url, "http://opt.example/v1");
}

TEST(RemoteSettings, KeyFromANamedVariable) {
  EnvVar key("MY_GATEWAY_KEY", "gw");
  auto s = resolve_settings(remote::anthropic_dialect().defaults(),
                            {{"config", {{"providers", {{"anthropic", {{"api_key_env", "MY_GATEWAY_KEY"}}}}}}}});
  EXPECT_EQ(s.api_key, "gw");
  EXPECT_EQ(s.base_url, "https://api.anthropic.com");
}

TEST(RemoteSettings, MissingKeyForTheDefaultEndpointIsAConfigError) {
  unsetenv("OPENAI_API_KEY");
  unsetenv("OPENAI_BASE_URL");
  try {
    resolve_settings(remote::openai_dialect().defaults(), nlohmann::json::object());
    FAIL();
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("$OPENAI_API_KEY"), std::string::npos) << e.what();
  }
  // A local OpenAI-compatible server needs none.
  EXPECT_NO_THROW(resolve_settings(remote::openai_dialect().defaults(), {{"base_url", "http://127.0.0.1:8080/v1"}}));
}

TEST(RemoteSettings, OllamaHostAsTheOllamaCliTakesIt) {
  const auto d = remote::ollama_dialect().defaults();
  {
    EnvVar host("OLLAMA_HOST", "gpu-box");
    EXPECT_EQ(resolve_settings(d, nlohmann::json::object()).base_url, "http://gpu-box:11434");
  }
  {
    EnvVar host("OLLAMA_HOST", "10.0.0.2:9999");
    EXPECT_EQ(resolve_settings(d, nlohmann::json::object()).base_url, "http://10.0.0.2:9999");
  }
  EXPECT_EQ(resolve_settings(d, nlohmann::json::object()).base_url, "http://127.0.0.1:11434");
}

TEST(RemoteSettings, BadValuesNameTheirKey) {
  const auto d = remote::ollama_dialect().defaults();
  auto bad = [&](nlohmann::json section, const std::string& key) {
    try {
      resolve_settings(d, {{"config", {{"providers", {{"ollama", section}}}}}});
      FAIL() << key;
    } catch (const ConfigError& e) {
      EXPECT_NE(std::string(e.what()).find(key), std::string::npos) << e.what();
    }
  };
  bad({{"headers", {"no colon"}}}, "providers.ollama.headers[0]");
  bad({{"timeout_s", "soon"}}, "providers.ollama.timeout_s");
  bad({{"timeout_s", 0}}, "providers.ollama.timeout_s");
  bad({{"base_url", "ftp://x"}}, "ftp://x");
}

// Each API gets the parameters it has, under its own names; the rest are reported.
TEST(RemoteDialects, SamplingParametersMappedPerApi) {
  PreparedRequest r;
  r.messages = {{"system", "Be brief.", {}}, {"user", "hi", {}}};
  r.params.temperature = 0.5;
  r.params.top_k = 20;
  r.params.repetition_penalty = 1.1;
  r.params.max_tokens = 9;
  r.params.stop = std::vector<std::string>{"END"};
  r.params.seed = 3;
  std::vector<std::string> unsupported;
  auto o = remote::openai_dialect().request_body(r, "m", unsupported);
  EXPECT_EQ(o["max_tokens"], 9);
  EXPECT_EQ(o["stop"][0], "END");
  EXPECT_EQ(o["seed"], 3);
  EXPECT_EQ(o["messages"][0]["role"], "system");
  EXPECT_FALSE(o.contains("top_k"));
  EXPECT_EQ(unsupported, (std::vector<std::string>{"top_k", "repetition_penalty"}));

  unsupported.clear();
  auto a = remote::anthropic_dialect().request_body(r, "m", unsupported);
  EXPECT_EQ(a["system"], "Be brief.");
  EXPECT_EQ(a["messages"].size(), 1u);
  EXPECT_EQ(a["top_k"], 20);
  EXPECT_EQ(a["stop_sequences"][0], "END");
  EXPECT_EQ(unsupported, (std::vector<std::string>{"repetition_penalty", "seed"}));

  unsupported.clear();
  auto l = remote::ollama_dialect().request_body(r, "m", unsupported);
  EXPECT_EQ(l["options"]["num_predict"], 9);
  EXPECT_EQ(l["options"]["repeat_penalty"], 1.1);
  EXPECT_EQ(l["options"]["top_k"], 20);
  EXPECT_TRUE(unsupported.empty());
}

// Images go as the file's own bytes, base64, in each API's own shape.
TEST(RemoteDialects, ImagesAsEachApiWantsThem) {
  const auto file = std::filesystem::temp_directory_path() / ("allm_remote_image_" + std::to_string(getpid()) + ".png");
  {
    std::ofstream f(file, std::ios::binary);
    f << "PNGDATA";  // base64: UE5HREFUQQ==
  }
  PreparedRequest r;
  r.messages = {{"user", "What is this?", {}}};
  PreparedImage img;
  img.message_index = 0;
  img.media.kind = MediaKind::image;
  img.media.mime = "image/png";
  img.media.source = file;
  r.images.push_back(img);
  std::vector<std::string> unsupported;
  auto o = remote::openai_dialect().request_body(r, "m", unsupported);
  EXPECT_EQ(o["messages"][0]["content"][0]["image_url"]["url"], "data:image/png;base64,UE5HREFUQQ==");
  EXPECT_EQ(o["messages"][0]["content"][1], (nlohmann::json{{"type", "text"}, {"text", "What is this?"}}));
  auto a = remote::anthropic_dialect().request_body(r, "m", unsupported);
  EXPECT_EQ(a["messages"][0]["content"][0]["source"],
            (nlohmann::json{{"type", "base64"}, {"media_type", "image/png"}, {"data", "UE5HREFUQQ=="}}));
  EXPECT_EQ(a["messages"][0]["content"][1]["text"], "What is this?");
  auto l = remote::ollama_dialect().request_body(r, "m", unsupported);
  EXPECT_EQ(l["messages"][0]["images"], nlohmann::json::array({"UE5HREFUQQ=="}));
  EXPECT_EQ(l["messages"][0]["content"], "What is this?");
  // Placed between two texts (offset 5: "What " | image | "is this?"), it stays there.
  r.images[0].offset = 5;
  r.images.push_back(r.images[0]);
  r.images[1].offset = 13;  // and one after all the text
  o = remote::openai_dialect().request_body(r, "m", unsupported);
  ASSERT_EQ(o["messages"][0]["content"].size(), 4u);
  EXPECT_EQ(o["messages"][0]["content"][0], (nlohmann::json{{"type", "text"}, {"text", "What "}}));
  EXPECT_EQ(o["messages"][0]["content"][1]["type"], "image_url");
  EXPECT_EQ(o["messages"][0]["content"][2], (nlohmann::json{{"type", "text"}, {"text", "is this?"}}));
  EXPECT_EQ(o["messages"][0]["content"][3]["type"], "image_url");
  a = remote::anthropic_dialect().request_body(r, "m", unsupported);
  ASSERT_EQ(a["messages"][0]["content"].size(), 4u);
  EXPECT_EQ(a["messages"][0]["content"][0]["text"], "What ");
  EXPECT_EQ(a["messages"][0]["content"][1]["type"], "image");
  EXPECT_EQ(a["messages"][0]["content"][2]["text"], "is this?");
  EXPECT_EQ(a["messages"][0]["content"][3]["type"], "image");
  std::filesystem::remove(file);
}

TEST(RemoteDialects, Base64OfEveryTailLength) {
  EXPECT_EQ(remote::base64(""), "");
  EXPECT_EQ(remote::base64("f"), "Zg==");
  EXPECT_EQ(remote::base64("fo"), "Zm8=");
  EXPECT_EQ(remote::base64("foo"), "Zm9v");
  EXPECT_EQ(remote::base64("foob"), "Zm9vYg==");
  EXPECT_EQ(remote::base64(std::string("\xff\xfe\x00", 3)), "//4A");
}

std::vector<std::pair<std::string, std::string>> frame(EventStream::Framing f, const std::string& body, size_t piece) {
  std::vector<std::pair<std::string, std::string>> got;
  EventStream s(f, [&](const std::string& e, const std::string& d) { got.emplace_back(e, d); });
  for (size_t i = 0; i < body.size(); i += piece) s.feed(body.data() + i, std::min(piece, body.size() - i));
  s.finish();
  return got;
}

TEST(EventStream, SseEventsWhateverThePieceSize) {
  const std::string body =
      ": keep-alive\r\nevent: a\r\ndata: {\"x\":1}\r\n\r\ndata: line1\ndata: line2\n\nevent: b\ndata: last";
  const std::vector<std::pair<std::string, std::string>> want = {
      {"a", "{\"x\":1}"}, {"", "line1\nline2"}, {"b", "last"}};
  for (size_t piece : {1u, 2u, 7u, 1000u}) EXPECT_EQ(frame(EventStream::Framing::sse, body, piece), want) << piece;
}

TEST(EventStream, NdjsonLinesWhateverThePieceSize) {
  const std::string body = "{\"a\":1}\n\n{\"b\":2}\r\n{\"c\":3}";
  const std::vector<std::pair<std::string, std::string>> want = {{"", "{\"a\":1}"}, {"", "{\"b\":2}"}, {"", "{\"c\":3}"}};
  for (size_t piece : {1u, 3u, 1000u}) EXPECT_EQ(frame(EventStream::Framing::ndjson, body, piece), want) << piece;
}

TEST(RemoteCapabilities, ReportTheParametersAnApiLacks) {
  auto caps = make_remote("openai", {{"base_url", "http://127.0.0.1:9/v1"}, {"model", "m"}})->capabilities();
  const auto& missing = caps.model_info["unsupported_parameters"];
  EXPECT_NE(std::find(missing.begin(), missing.end(), "top_k"), missing.end());
  EXPECT_EQ(caps.model_info["api_key"], "set (options)");  // the key itself is never shown
  EXPECT_EQ(caps.model, "m");
}

}  // namespace
}  // namespace allm::test
