#pragma once
// How a family is recognised when a checkpoint's config.json lacks
// `model_type`: its transformers class names and the spellings of its
// directory names, declared by the family's architecture plugin (registered
// when it loads) and used by detect_model_type (model_loader.hpp). Needed
// only where the generic rule ("FooBarForCausalLM" -> "foobar") is wrong.
#include <string>
#include <vector>

namespace allm {

struct ModelTypeNames {
  std::string model_type;
  std::vector<std::string> classes;    // e.g. "Qwen3MoeForCausalLM"
  std::vector<std::string> dir_hints;  // lower-case substrings of a model's folder name, e.g. "qwen3-moe"
};

// Registers (or replaces, by model_type) a family's names. Thread-safe.
void register_model_type_names(ModelTypeNames names);

}  // namespace allm
