// Every case of every template in tests/data/jinja (copied from the reference
// fixtures) and tests/data/jinja/llama_cpp (every template of llama.cpp's
// models/templates, rendered by tools/chat_template_fixtures.py) — all
// transformers' own renderings — must render byte for byte, and every `error`
// case must fail with transformers' message.
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "allm/chat_template.hpp"
#include "allm/error.hpp"

namespace {

namespace fs = std::filesystem;
using json = nlohmann::ordered_json;

const fs::path kDir = fs::path(ALLM_TEST_DATA_DIR) / "jinja";

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Template names relative to kDir, without ".jinja" ("chatml", "llama_cpp/GLM-4.6").
std::vector<std::string> template_names() {
  std::vector<std::string> names;
  for (const char* sub : {"", "llama_cpp"})
    for (auto& e : fs::directory_iterator(kDir / sub))
      if (e.path().extension() == ".jinja")
        names.push_back((fs::path(sub) / e.path().stem()).generic_string());
  std::sort(names.begin(), names.end());
  return names;
}

// "TypeError: 'NoneType' object is not iterable" -> the message alone: the
// Python exception's class is not part of allm's TemplateError message.
std::string without_exception_type(const std::string& error) {
  size_t colon = error.find(": ");
  if (colon == std::string::npos || colon == 0) return error;
  for (size_t i = 0; i < colon; ++i)
    if (!std::isalnum(static_cast<unsigned char>(error[i])) && error[i] != '_' && error[i] != '.') return error;
  return error.substr(colon + 2);
}

// The clock transformers' fixtures were rendered with: 2026-11-22 12:00:00.
std::tm fixture_clock() {
  std::tm tm{};
  tm.tm_year = 2026 - 1900;
  tm.tm_mon = 10;
  tm.tm_mday = 22;
  tm.tm_hour = 12;
  tm.tm_wday = 0;  // a Sunday
  tm.tm_yday = 325;
  return tm;
}

// A short window around the first differing byte.
std::string diff_snippet(const std::string& want, const std::string& got) {
  size_t i = 0;
  while (i < want.size() && i < got.size() && want[i] == got[i]) ++i;
  size_t from = i > 40 ? i - 40 : 0;
  auto show = [&](const std::string& s) { return json(s.substr(std::min(from, s.size()), 100)).dump(); };
  return "first difference at byte " + std::to_string(i) + "\n  want: " + show(want) + "\n  got:  " + show(got);
}

class ChatTemplateFixture : public ::testing::TestWithParam<std::string> {};

TEST_P(ChatTemplateFixture, RendersLikeTransformers) {
  const std::string name = GetParam();
  const fs::path tpl_path = kDir / (name + ".jinja");
  allm::ChatTemplate tpl = [&] {
    try {
      return allm::ChatTemplate::parse(slurp(tpl_path), tpl_path.filename().string());
    } catch (const allm::TemplateError& e) {
      ADD_FAILURE() << name << ": does not parse: " << e.what();
      throw;
    }
  }();
  const fs::path cases_path = kDir / (name + ".cases.json");
  if (!fs::exists(cases_path)) return;  // parse-only template
  json cases = json::parse(slurp(cases_path));
  ASSERT_FALSE(cases.empty());
  allm::RenderOptions options;
  options.clock = fixture_clock;
  for (size_t i = 0; i < cases.size(); ++i) {
    const json& c = cases[i];
    allm::ChatRequest req;
    req.messages = c["messages"];
    req.tools = c["tools"];
    req.add_generation_prompt = c["add_generation_prompt"].get<bool>();
    req.variables = c["special_tokens"];
    std::string label = name + " case " + std::to_string(i) + " (" + c.value("conversation", "") + ")";
    if (c.contains("error")) {
      std::string want = without_exception_type(c["error"].get<std::string>());
      try {
        std::string out = allm::render_chat(tpl, req, options);
        ADD_FAILURE() << label << ": expected an error containing \"" << want << "\", rendered " << json(out).dump();
      } catch (const allm::TemplateError& e) {
        EXPECT_NE(std::string(e.what()).find(want), std::string::npos) << label << ": error was: " << e.what();
      }
      continue;
    }
    std::string want = c["rendered"].get<std::string>();
    try {
      std::string got = allm::render_chat(tpl, req, options);
      EXPECT_EQ(got, want) << label << ": " << diff_snippet(want, got);
    } catch (const std::exception& e) {
      ADD_FAILURE() << label << ": threw " << e.what();
    }
  }
}

INSTANTIATE_TEST_SUITE_P(AllTemplates, ChatTemplateFixture, ::testing::ValuesIn(template_names()),
                         [](const ::testing::TestParamInfo<std::string>& info) {
                           std::string n = info.param;
                           for (char& ch : n)
                             if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
                           return n;
                         });

TEST(ChatTemplateFixtures, AllPresent) {
  auto names = template_names();
  EXPECT_GE(std::count_if(names.begin(), names.end(), [](auto& n) { return n.rfind("llama_cpp/", 0) == 0; }), 70);
  EXPECT_GE(names.size(), 93u);
}

}  // namespace
