#pragma once
// Gemma 3's vision half (model_type gemma3): see gemma3_vision.cpp.
#include <memory>

#include "allm/architecture.hpp"

namespace allm::gemma3 {

// Whether the (normalised) config describes a vision tower.
bool has_vision(const Checkpoint& ckpt);
// The checkpoint with only the language model's tensors, named as a
// gemma3_text checkpoint names them (language_model.model.* or
// model.language_model.* -> model.*); the mapped bytes are shared.
Checkpoint language_model_view(const Checkpoint& ckpt);
// `text` (built from language_model_view) plus the vision encoder.
std::unique_ptr<Model> make_vision_model(const Checkpoint& ckpt, const ModelOptions& options,
                                         std::unique_ptr<Model> text);

}  // namespace allm::gemma3
