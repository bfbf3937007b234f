#pragma once
// Turns a conversation into prompt text and token ids for one model: its chat
// template (with bos/eos tokens, tools and the generation prompt), or, in raw
// mode, the messages' text joined as is for plain completion.
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "allm/provider.hpp"
#include "allm/tool_calls.hpp"
#include "engine_model.hpp"

namespace allm::local {

// An image's soft tokens in the prompt: ids [index, index + count).
struct ImageRun {
  int64_t index = 0, count = 0;
  const ImageData* image = nullptr;
};

struct RenderedPrompt {
  std::string text;
  std::vector<TokenId> ids;
  size_t keep_prefix = 0;  // leading BOS tokens that truncation must keep
  std::vector<ImageRun> images;  // in prompt order
};

// An image and where it goes in its message's content (bytes; 0: first).
struct PlacedImage {
  const ImageData* image = nullptr;
  size_t offset = 0;
};
// The images of each message (outer index = message index; may be empty: none),
// in the order of their offsets.
using MessageImages = std::vector<std::vector<PlacedImage>>;

// raw: no template; message contents are joined by blank lines and encoded
// with the tokenizer's special tokens (e.g. BOS). Otherwise the template is
// rendered and encoded; the tokenizer adds BOS only when the rendered text
// does not already start with it, within `limits` (config template.*).
// A message with images goes to the template as a list of content items, its
// text cut at the images' offsets ({"type": "image"} in place, in order); the
// model's vision encoder then expands each image marker the template wrote
// (docs/vision.md).
RenderedPrompt render_prompt(const EngineModel& model, const std::vector<Message>& messages,
                             const nlohmann::json& tools, bool raw, const RenderLimits& limits,
                             const MessageImages& images = {});

// The request's conversation rendered and fitted into `context_length`
// tokens, leaving `reserve` for the reply (request.truncation decides how:
// error, dropping the oldest turns, or cutting the prompt's left side).
struct FittedPrompt {
  std::vector<TokenId> ids;
  std::string text;
  size_t dropped_messages = 0;
  std::vector<ImageRun> images;  // the request's images still in the prompt
};
FittedPrompt fit_prompt(const EngineModel& model, const PreparedRequest& request, bool raw, size_t context_length,
                        size_t reserve, const RenderLimits& limits);

// Whether the template renders tool specs (it mentions `tools`).
bool template_uses_tools(const EngineModel& model);

// How the model writes tool calls and reasoning, from its chat template
// (none in raw mode or with the fallback template).
tools::Dialect dialect_of(const EngineModel& model, bool raw);
// {"open", "close"} of the dialect's reasoning tags, or null.
nlohmann::json reasoning_tags(const tools::Dialect& d);
// The special tokens a reply must keep in its text so its tool calls can be
// read back: the format's markers, when the request offers tools.
std::vector<TokenId> kept_special_tokens(const EngineModel& model, const PreparedRequest& request, bool raw);

}  // namespace allm::local
