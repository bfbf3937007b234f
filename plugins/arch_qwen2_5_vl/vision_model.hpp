#pragma once
// A Qwen2.5-VL model that sees: the language model (a decoder with M-RoPE)
// plus the VisionEncoder (allm/vision.hpp) the local provider asks for: each
// <|image_pad|> the chat template writes becomes one pad token per merged
// patch, and the vision tower's output stands for them, laid out on the
// merged patch grid (SoftTokens::grid_h/grid_w) for M-RoPE.
#include <memory>

#include "allm/architecture.hpp"
#include "allm/checkpoint.hpp"
#include "allm/model.hpp"

namespace allm::qwen_vl {

std::unique_ptr<Model> make_vision_model(const Checkpoint& ckpt, const ModelOptions& options,
                                         std::unique_ptr<Model> text);

}  // namespace allm::qwen_vl
