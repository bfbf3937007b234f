#pragma once
// What a MODEL argument names, worked out once per command: a local model
// (resolve_model: a path, the HF cache, the Ollama/LM Studio stores; a bundled
// model's name first becomes its folder) or a remote provider's model
// (PROVIDER:MODEL). Every command that takes a model goes through
// choose_model / model_named_by / default_model and hands the result on — to
// the local provider too — so no spec is resolved twice.
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "allm/model_loader.hpp"

namespace allm::cli {

struct ModelChoice {
  std::string spec;                    // as typed; a bundled model's name replaced by its folder
  std::optional<ResolvedModel> local;  // a local model: where it is (unset for a remote one)
  std::string remote;                  // PROVIDER of PROVIDER:MODEL ("" for a local one)

  // MODEL of PROVIDER:MODEL.
  std::string remote_model() const { return spec.substr(remote.size() + 1); }
  // The local model; UnsupportedError naming `command` for a remote one.
  const ResolvedModel& local_model(const std::string& command) const;
};

// The model `typed` names: local when it resolves (a local model wins over a
// provider prefix), else remote when its prefix is a registered provider
// ("local:" never is). Throws resolve_model's ModelLoadError otherwise.
ModelChoice choose_model(const std::string& typed);

// The model `text` names, or nullopt when it names none (it is a prompt):
// for `allm run [MODEL] [PROMPT]` with one argument. Remote ids have no
// spaces, so "openai: what is this?" is a prompt.
std::optional<ModelChoice> model_named_by(const std::string& text);

// config default_model, chosen like a typed spec.
ModelChoice default_model();

// The local provider's options naming the chosen model (its spec and where it
// resolved to, so the provider does not resolve it again).
void add_model_options(const ModelChoice& choice, nlohmann::json& options);

}  // namespace allm::cli
