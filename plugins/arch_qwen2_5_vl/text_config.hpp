#pragma once
// The language-model view of a Qwen2.5-VL checkpoint's config.
#include "allm/checkpoint.hpp"

namespace allm::qwen_vl {

// The hub's config.json keeps the text model's keys at the top level;
// transformers 5 writes them under `text_config` (with rope_parameters). The
// returned checkpoint shares the weights and has the text keys at the top
// level, normalised (rope_scaling with mrope_section), model_type kept.
Checkpoint text_checkpoint(const Checkpoint& ckpt);

}  // namespace allm::qwen_vl
