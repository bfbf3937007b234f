#include "text_config.hpp"

#include "allm/model_loader.hpp"

namespace allm::qwen_vl {

Checkpoint text_checkpoint(const Checkpoint& ckpt) {
  Checkpoint text = ckpt;
  auto tc = ckpt.config.find("text_config");
  if (tc == ckpt.config.end() || !tc->is_object()) return text;
  nlohmann::json merged = *tc;
  for (auto it = ckpt.config.begin(); it != ckpt.config.end(); ++it)
    if (it.key() != "text_config" && !merged.contains(it.key())) merged[it.key()] = it.value();
  merged["model_type"] = ckpt.config.value("model_type", std::string("qwen2_5_vl"));
  text.config = normalize_config(merged, (ckpt.source / "config.json").string() + " (text_config)");
  return text;
}

}  // namespace allm::qwen_vl
