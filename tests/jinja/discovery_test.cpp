// Template discovery: files, precedence, named templates, fallback.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "allm/chat_template.hpp"
#include "allm/error.hpp"
#include "../common/temp_dir.hpp"

namespace {

namespace fs = std::filesystem;
using json = nlohmann::ordered_json;

using allm::test::TempDir;

TEST(ChatTemplateDiscovery, TokenizerConfigString) {
  TempDir dir;
  dir.write("tokenizer_config.json", R"({"bos_token": "<s>", "chat_template": "{{ messages[0].content }}"})");
  auto src = allm::find_chat_template(dir.path());
  EXPECT_FALSE(src.fallback);
  EXPECT_EQ(src.text, "{{ messages[0].content }}");
  EXPECT_NE(src.origin.find("tokenizer_config.json:chat_template"), std::string::npos);
}

TEST(ChatTemplateDiscovery, PrecedenceJinjaThenJsonThenTokenizerConfig) {
  TempDir dir;
  dir.write("tokenizer_config.json", R"({"chat_template": "from config"})");
  EXPECT_EQ(allm::find_chat_template(dir.path()).text, "from config");
  dir.write("chat_template.json", R"({"chat_template": "from json"})");
  EXPECT_EQ(allm::find_chat_template(dir.path()).text, "from json");
  dir.write("chat_template.jinja", "from jinja");
  EXPECT_EQ(allm::find_chat_template(dir.path()).text, "from jinja");
}

TEST(ChatTemplateDiscovery, NamedTemplates) {
  TempDir dir;
  dir.write("tokenizer_config.json", R"({"chat_template": [{"name": "default", "template": "D"},
                                                            {"name": "tool_use", "template": "T"}]})");
  EXPECT_EQ(allm::find_chat_template(dir.path()).text, "D");
  EXPECT_EQ(allm::find_chat_template(dir.path(), "tool_use").text, "T");
  EXPECT_THROW(allm::find_chat_template(dir.path(), "rag"), allm::TemplateError);
  dir.write("additional_chat_templates/rag.jinja", "R");
  EXPECT_EQ(allm::find_chat_template(dir.path(), "rag").text, "R");

  json no_default = json::parse(R"([{"name": "a", "template": "A"}])");
  EXPECT_THROW(allm::select_chat_template(no_default, "", "x"), allm::TemplateError);
  EXPECT_EQ(allm::select_chat_template(no_default, "a", "x").value(), "A");
  EXPECT_FALSE(allm::select_chat_template(json(nullptr), "", "x").has_value());
}

TEST(ChatTemplateDiscovery, FilesGivenDirectly) {
  TempDir dir;
  dir.write("my.jinja", "{{ 'hi' }}");
  EXPECT_EQ(allm::find_chat_template(dir.path() / "my.jinja").text, "{{ 'hi' }}");
  dir.write("cfg.json", R"({"chat_template": "C"})");
  EXPECT_EQ(allm::find_chat_template(dir.path() / "cfg.json").text, "C");
  EXPECT_THROW(allm::find_chat_template(dir.path() / "absent.jinja"), allm::IoError);
  dir.write("bad.json", "{not json");
  EXPECT_THROW(allm::find_chat_template(dir.path() / "bad.json"), allm::TemplateError);
}

TEST(ChatTemplateDiscovery, FallbackWhenNoTemplate) {
  TempDir dir;
  dir.write("tokenizer_config.json", R"({"bos_token": "<s>"})");
  auto src = allm::find_chat_template(dir.path());
  EXPECT_TRUE(src.fallback);
  auto tpl = allm::ChatTemplate::parse(src.text, src.origin);
  allm::ChatRequest req;
  req.messages = json::parse(R"([{"role":"system","content":"Be brief."},{"role":"user","content":"Hi"},
                                 {"role":"assistant","content":[{"type":"text","text":"Hel"},{"type":"image"},{"type":"text","text":"lo"}]}])");
  req.add_generation_prompt = true;
  EXPECT_EQ(allm::render_chat(tpl, req), "system: Be brief.\nuser: Hi\nassistant: Hello\nassistant: ");
  EXPECT_TRUE(allm::chat_template_from_text("", "gguf:tokenizer.chat_template").fallback);
  auto given = allm::chat_template_from_text("{{ 1 }}", "gguf:tokenizer.chat_template");
  EXPECT_FALSE(given.fallback);
  EXPECT_EQ(given.origin, "gguf:tokenizer.chat_template");
}

TEST(ChatTemplateRender, VariablesDoNotOverrideTheRequest) {
  auto tpl = allm::ChatTemplate::parse("{{ add_generation_prompt }}|{{ bos_token }}|{{ tools }}|{{ messages|length }}");
  allm::ChatRequest req;
  req.variables = {{"bos_token", "<s>"}, {"add_generation_prompt", true}};
  EXPECT_EQ(allm::render_chat(tpl, req), "False|<s>|None|0");
}

}  // namespace
