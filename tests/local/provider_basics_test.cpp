// Prompt rendering, capabilities, attachments, context window, parameters.
#include <fstream>

#include <gtest/gtest.h>

#include "allm/error.hpp"
#include "local_test_util.hpp"

namespace allm::local::test {
namespace {

TEST(LocalProvider, RegistersAsLocalAndReportsCapabilities) {
  load_plugins();
  ASSERT_NE(Registry::instance().provider("local"), nullptr);
  auto p = create_provider("local", {{"model", fixture("qwen3")}, {"config", {{"context_length", 4096}}}});
  Capabilities c = p->capabilities();
  EXPECT_TRUE(c.streaming);
  EXPECT_TRUE(c.system_prompt);
  EXPECT_TRUE(c.async);
  EXPECT_FALSE(c.vision);
  EXPECT_FALSE(c.tool_use);  // the fixture's ChatML template does not render tools
  EXPECT_TRUE(c.cache_state);
  EXPECT_EQ(c.max_context, 256);  // the model's max_position_embeddings caps the config's 4096
  EXPECT_EQ(c.model, fixture("qwen3"));
  EXPECT_FALSE(p->model_fingerprint().empty());
}

TEST(LocalProvider, ContextOptionLowersTheWindow) {
  auto p = make_provider(fixture("qwen3"), {{"context_length", 64}});
  EXPECT_EQ(p->capabilities().max_context, 64);
}

TEST(LocalProvider, RendersSystemPromptThroughTheChatTemplate) {
  auto p = make_provider(fixture("qwen3"));
  GenerateRequest r;
  r.prompt = "hello there";
  r.system_prompt = "You are terse.";
  RenderedPrompt out = p->render(r);
  EXPECT_EQ(out.text,
            "<|im_start|>system\nYou are terse.<|im_end|>\n<|im_start|>user\nhello there<|im_end|>\n"
            "<|im_start|>assistant\n");
  EXPECT_FALSE(out.ids.empty());
}

TEST(LocalProvider, RawModeSkipsTheTemplate) {
  auto p = make_provider(fixture("qwen3"), {{"template", "none"}});
  GenerateRequest r;
  r.prompt = "Once upon a time";
  r.system_prompt = "Preface.";
  EXPECT_EQ(p->render(r).text, "Preface.\n\nOnce upon a time");
  EXPECT_THROW(make_provider(fixture("qwen3"), {{"template", "jinja"}}), InvalidArgumentError);
}

TEST(LocalProvider, TextFilesJoinThePromptWithTheirName) {
  auto p = make_provider(fixture("qwen3"));
  const auto file = std::filesystem::temp_directory_path() / "allm_local_notes.txt";
  std::ofstream(file) << "the sky is green on Tuesdays";
  GenerateRequest r;
  r.prompt = "summarise";
  r.files = {file};
  const std::string text = p->render(r).text;
  EXPECT_NE(text.find("the sky is green on Tuesdays"), std::string::npos) << text;
  EXPECT_NE(text.find("allm_local_notes.txt"), std::string::npos) << text;
  EXPECT_LT(text.find("the sky is green"), text.find("summarise"));
  std::filesystem::remove(file);
}

TEST(LocalProvider, ImagesAreRefusedWithoutVision) {
  auto p = make_provider(fixture("qwen3"));
  GenerateRequest r = greedy("what is this?", 2);
  r.files = {std::string(ALLM_TEST_DATA_DIR) + "/media/pixels.png"};
  try {
    p->generate(r);
    FAIL() << "expected MediaError";
  } catch (const MediaError& e) {
    EXPECT_NE(std::string(e.what()).find("this model does not support images"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("pixels.png"), std::string::npos) << e.what();
  }
}

TEST(LocalProvider, TooLongPromptNamesBothLengths) {
  auto p = make_provider(fixture("qwen3"), {{"context_length", 48}});
  std::string long_text;
  for (int i = 0; i < 60; ++i) long_text += "word ";
  GenerateRequest r = greedy(long_text, 4);
  const size_t prompt_len = p->render(r).ids.size();
  ASSERT_GT(prompt_len, 48u);
  try {
    p->generate(r);
    FAIL() << "expected ContextWindowError";
  } catch (const ContextWindowError& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find(std::to_string(prompt_len) + " tokens"), std::string::npos) << msg;
    EXPECT_NE(msg.find("context window is 48 tokens"), std::string::npos) << msg;
  }
  // With a truncation policy the same request runs, inside the window.
  r.truncation = TruncationPolicy::truncate_left;
  GenerateResponse out = p->generate(r);
  EXPECT_LE(out.usage.prompt_tokens, 48 - 4);
  EXPECT_EQ(out.token_ids.size(), 4u);
}

TEST(LocalProvider, BadTemperatureIsAnInvalidArgument) {
  auto p = make_provider(fixture("qwen3"));
  GenerateRequest r = greedy("hi", 2);
  r.params.temperature = -0.5;
  EXPECT_THROW(p->generate(r), InvalidArgumentError);
  r.params.temperature = std::nan("");
  EXPECT_THROW(p->generate(r), InvalidArgumentError);
}

// options.gpu_layers (config gpu_layers): a layer count for a device
// backend; on the CPU backend the model runs whole, as without it. Anything
// but an integer of -1 or more is refused naming the option.
TEST(LocalProvider, GpuLayersOption) {
  auto p = make_provider(fixture("qwen3"), {{"gpu_layers", 1}, {"backend", "cpu"}});
  const auto r = p->generate(greedy("Hello", 3));
  EXPECT_EQ(r.usage.completion_tokens, 3);
  for (const nlohmann::json& bad : {nlohmann::json("all"), nlohmann::json(-2), nlohmann::json(1.5)}) {
    try {
      make_provider(fixture("qwen3"), {{"gpu_layers", bad}});
      FAIL() << "gpu_layers " << bad.dump() << " was accepted";
    } catch (const InvalidArgumentError& e) {
      EXPECT_NE(std::string(e.what()).find("options.gpu_layers"), std::string::npos) << e.what();
    }
  }
}

TEST(LocalProvider, UnknownModelIsAModelLoadError) {
  EXPECT_THROW(make_provider("/nonexistent/model/dir"), ModelLoadError);
}

}  // namespace
}  // namespace allm::local::test
