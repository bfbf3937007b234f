#pragma once
// Turns a conversation into prompt text and token ids for one model: its chat
// template (with bos/eos tokens, tools and the generation prompt), or, in raw
// mode, the messages' text joined as is for plain completion.
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "allm/provider.hpp"
#include "engine_model.hpp"

namespace allm::local {

struct RenderedPrompt {
  std::string text;
  std::vector<TokenId> ids;
  size_t keep_prefix = 0;  // leading BOS tokens that truncation must keep
};

// raw: no template; message contents are joined by blank lines and encoded
// with the tokenizer's special tokens (e.g. BOS). Otherwise the template is
// rendered and encoded; the tokenizer adds BOS only when the rendered text
// does not already start with it.
RenderedPrompt render_prompt(const EngineModel& model, const std::vector<Message>& messages,
                             const nlohmann::json& tools, bool raw);

// Whether the template renders tool specs (it mentions `tools`).
bool template_uses_tools(const EngineModel& model);

}  // namespace allm::local
