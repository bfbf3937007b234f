#include <gtest/gtest.h>

#include "allm/error.hpp"
#include "allm/provider.hpp"

using allm::GenerateRequest;
using nlohmann::json;

namespace {

std::string invalid(const GenerateRequest& r) {
  try {
    r.validate();
  } catch (const allm::InvalidArgumentError& e) {
    return e.what();
  }
  return "valid";
}

}  // namespace

TEST(GenerateRequest, NeedsExactlyOneOfPromptAndMessages) {
  GenerateRequest r;
  EXPECT_NE(invalid(r).find("needs a prompt or at least one message"), std::string::npos);
  r.prompt = "hi";
  EXPECT_EQ(invalid(r), "valid");
  r.messages.push_back({"user", "hi", {}});
  EXPECT_NE(invalid(r).find("either prompt or messages"), std::string::npos);
}

TEST(GenerateRequest, RolesAndSystemPlacement) {
  GenerateRequest r;
  r.messages = {{"user", "a", {}}, {"wizard", "b", {}}};
  EXPECT_NE(invalid(r).find("request.messages[1].role: unknown role 'wizard'"), std::string::npos) << invalid(r);
  r.messages = {{"user", "a", {}}, {"system", "b", {}}};
  EXPECT_NE(invalid(r).find("request.messages[1]: a system message must come first"), std::string::npos);
  r.messages = {{"system", "s", {}}, {"user", "a", {}}};
  EXPECT_EQ(invalid(r), "valid");
  r.system_prompt = "also";
  EXPECT_NE(invalid(r).find("system_prompt given and messages[0] is a system message"), std::string::npos);
}

TEST(GenerateRequest, FilesNeedAUserTurnAndToolsMustBeObjects) {
  GenerateRequest r;
  r.messages = {{"assistant", "a", {}}};
  r.files = {"x.txt"};
  EXPECT_NE(invalid(r).find("request.files"), std::string::npos);
  r.messages = {{"user", "a", {}}};
  EXPECT_EQ(invalid(r), "valid");
  r.tools = json::array({"not an object"});
  EXPECT_NE(invalid(r).find("request.tools[0]"), std::string::npos);
}

TEST(GenerateRequest, JsonRoundTrip) {
  json j = {{"messages", {{{"role", "user"}, {"content", "hi"}, {"attachments", {"a.md"}}}}},
            {"system_prompt", "be brief"},
            {"files", {"b.txt"}},
            {"params", {{"temperature", 0.0}, {"max_tokens", 5}}},
            {"tools", {{{"type", "function"}, {"function", {{"name", "now"}}}}}},
            {"stream", true},
            {"truncation", "drop_oldest"},
            {"model", "qwen3"},
            {"logprobs", 3}};
  auto r = GenerateRequest::from_json(j);
  EXPECT_EQ(r.logprobs, 3);
  EXPECT_EQ(r.messages.at(0).attachments.at(0), "a.md");
  EXPECT_EQ(r.truncation, allm::TruncationPolicy::drop_oldest);
  EXPECT_EQ(r.params.max_tokens, 5);
  EXPECT_TRUE(r.stream);
  EXPECT_EQ(r.to_json(), j);
}

TEST(GenerateRequest, JsonErrorsNameTheField) {
  try {
    GenerateRequest::from_json({{"prompt", "x"}, {"temperature", 1}});
    FAIL();
  } catch (const allm::InvalidArgumentError& e) {
    EXPECT_NE(std::string(e.what()).find("request.temperature: unknown request field"), std::string::npos);
  }
  try {
    GenerateRequest::from_json({{"messages", {{{"role", "user"}}}}});
    FAIL();
  } catch (const allm::InvalidArgumentError& e) {
    EXPECT_NE(std::string(e.what()).find("request.messages[0].content: missing"), std::string::npos) << e.what();
  }
  EXPECT_THROW(GenerateRequest::from_json({{"prompt", "x"}, {"truncation", "sideways"}}), allm::InvalidArgumentError);
  try {
    GenerateRequest::from_json({{"prompt", "x"}, {"logprobs", 21}});
    FAIL();
  } catch (const allm::InvalidArgumentError& e) {
    EXPECT_NE(std::string(e.what()).find("request.logprobs: expected 0..20"), std::string::npos) << e.what();
  }
}

TEST(GenerateResponse, JsonHasEveryField) {
  allm::GenerateResponse r;
  r.text = "hi";
  r.model = "m";
  r.finish_reason = allm::finish_reason::length;
  r.usage = {3, 2, 5};
  r.token_ids = {1, 2};
  auto j = r.to_json();
  EXPECT_EQ(j["finish_reason"], "length");
  EXPECT_EQ(j["usage"]["total_tokens"], 5);
  EXPECT_TRUE(j["timings"].contains("prefill_tokens_per_s"));
  EXPECT_EQ(j["token_ids"], json({1, 2}));
  EXPECT_FALSE(j.contains("logprobs"));  // only when asked for
  r.logprobs = {{1, -0.5f, {{1, -0.5f}, {7, -1.25f}}}, {2, -2.0f, {}}};
  j = r.to_json();
  EXPECT_EQ(j["logprobs"][0]["top"][1], json({7, -1.25}));
  EXPECT_EQ(j["logprobs"][1]["token"], 2);
}
