// The local provider with a vision model (tests/data/vision/gemma3, references
// from transformers 5.17): images attached to a turn are rendered, expanded
// and tokenized exactly as Gemma3Processor does (same ids), the greedy reply
// matches transformers', the prompt cache tells images apart by content, and a
// model without vision refuses an image with a clear error.
#include <gtest/gtest.h>

#include <cstring>

#include "allm/error.hpp"
#include "allm/safetensors.hpp"
#include "local_test_util.hpp"

namespace allm::local::test {
namespace {

const std::filesystem::path kDir = std::filesystem::path(ALLM_TEST_DATA_DIR) / "vision" / "gemma3";

std::vector<int32_t> ref_ids(const std::string& name) {
  auto ref = SafetensorsFile::open(kDir / "reference.safetensors");
  const Tensor& t = ref.get(name);
  std::vector<int32_t> out(static_cast<size_t>(t.numel()));
  std::memcpy(out.data(), t.data, out.size() * sizeof(int32_t));
  return out;
}
std::vector<float> ref_floats(const std::string& name) {
  auto ref = SafetensorsFile::open(kDir / "reference.safetensors");
  const Tensor& t = ref.get(name);
  std::vector<float> out(static_cast<size_t>(t.numel()));
  std::memcpy(out.data(), t.data, out.size() * sizeof(float));
  return out;
}

// The reference cases as requests: "a" and "ab" put the images first (a
// turn's attachments go first unless placed); "b" places its image after the
// text (Message::attachment_offsets).
GenerateRequest request(const std::string& id) {
  GenerateRequest r;
  if (id == "a") {
    r.messages = {Message("user", "Describe this image.", {kDir / "image_a.png"})};
  } else if (id == "b") {
    const std::string text = "What is in this picture?";
    r.messages = {Message("user", text, {kDir / "image_b.png"})};
    r.messages[0].attachment_offsets = {text.size()};
  } else {
    r.system_prompt = "You compare pictures.";
    r.messages = {Message("user", "Compare the two images.", {kDir / "image_a.png", kDir / "image_b.png"})};
  }
  r.params.temperature = 0;
  r.params.repetition_penalty = 1.0;
  r.params.max_tokens = 16;
  r.params.ignore_eos = true;
  return r;
}

TEST(Vision, CapabilitiesSayWhichModelsSee) {
  EXPECT_TRUE(make_provider(kDir.string())->capabilities().vision);
  EXPECT_TRUE(make_provider(kDir.string())->capabilities().model_info["vision"].get<bool>());
  EXPECT_FALSE(make_provider(fixture("qwen3"))->capabilities().vision);
}

TEST(Vision, PromptIdsAreTheProcessors) {
  auto p = make_provider(kDir.string());
  for (const char* id : {"a", "b", "ab"})
    EXPECT_EQ(p->preview_prompt(request(id)).ids, ref_ids(std::string(id) + ".input_ids")) << id;
}

TEST(Vision, GreedyRepliesAreTransformers) {
  auto p = make_provider(kDir.string());
  // ab after a: the shared prefix ends where the images differ; a again: reused.
  for (const char* id : {"a", "ab", "a", "b"}) {
    const GenerateResponse r = p->generate(request(id));
    const auto want = ref_ids(std::string(id) + ".greedy_ids");
    const auto margins = ref_floats(std::string(id) + ".greedy_margins");
    ASSERT_EQ(r.token_ids.size(), want.size()) << id;
    for (size_t i = 0; i < want.size() && margins[i] >= 0.05f; ++i) EXPECT_EQ(r.token_ids[i], want[i]) << id << " " << i;
    EXPECT_EQ(r.usage.prompt_tokens, static_cast<int64_t>(ref_ids(std::string(id) + ".input_ids").size()));
  }
}

TEST(Vision, PromptCacheTellsImagesApart) {
  auto p = make_provider(kDir.string());
  GenerateRequest a = request("a"), b = request("a");
  b.messages[0].attachments = {kDir / "image_b.png"};  // same text, another image
  p->generate(a);
  p->generate(b);
  const auto ids = ref_ids("a.input_ids");
  const auto first_image_token = std::find(ids.begin(), ids.end(), 517) - ids.begin();
  const int64_t reused = p->capabilities().model_info["last_prompt"]["reused_tokens"].get<int64_t>();
  EXPECT_LE(reused, first_image_token);  // nothing of image a's tokens is taken for image b's
  p->generate(b);  // the same again: the whole prompt but its last token comes from the cache
  EXPECT_EQ(p->capabilities().model_info["last_prompt"]["reused_tokens"].get<int64_t>(),
            static_cast<int64_t>(ids.size()) - 1);
}

// Qwen2.5-VL: an image moves the text after it to fewer positions than tokens
// (M-RoPE); a KV cache saved after such a turn and restored into another
// provider must continue at the same positions. The follow-up turn's first
// reply token has the log-probability a provider without any cache gives.
TEST(Vision, RestoredCacheKeepsTheImagesPositionShift) {
  const std::string qwen = std::string(ALLM_TEST_DATA_DIR) + "/vision/qwen2_5_vl";
  const nlohmann::json no_shared_cache = {{"prompt_cache", 0}};  // each provider starts from what it is given
  GenerateRequest first;
  first.messages = {Message("user", "What is in this picture?", {std::filesystem::path(qwen) / "image_a.png"})};
  first.params.temperature = 0;
  first.params.repetition_penalty = 1.0;
  first.params.max_tokens = 4;
  first.params.ignore_eos = true;
  auto saver = make_provider(qwen, no_shared_cache);
  const GenerateResponse r1 = saver->generate(first);
  const auto state = saver->save_cache_state();
  ASSERT_TRUE(state.has_value());

  GenerateRequest next = first;
  next.messages.push_back(Message("assistant", r1.text));
  next.messages.push_back(Message("user", "And the colours?"));
  next.logprobs = 0;
  auto restored = make_provider(qwen, no_shared_cache);
  ASSERT_TRUE(restored->restore_cache_state(*state));
  const GenerateResponse resumed = restored->generate(next);
  EXPECT_GT(restored->capabilities().model_info["last_prompt"]["reused_tokens"].get<int64_t>(), 60)
      << "the image and the text after it came from the restored cache";
  const GenerateResponse fresh = make_provider(qwen, no_shared_cache)->generate(next);
  ASSERT_FALSE(resumed.logprobs.empty());
  ASSERT_FALSE(fresh.logprobs.empty());
  EXPECT_NEAR(resumed.logprobs[0].logprob, fresh.logprobs[0].logprob, 1e-4);
  EXPECT_EQ(resumed.token_ids, fresh.token_ids);
}

TEST(Vision, AModelWithoutVisionRefusesAnImage) {
  auto p = make_provider(fixture("qwen3"));
  GenerateRequest r = request("a");
  try {
    p->generate(r);
    FAIL() << "an image went to a text-only model";
  } catch (const MediaError& e) {
    EXPECT_NE(std::string(e.what()).find("does not support images"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace allm::local::test
