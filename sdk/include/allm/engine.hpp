#pragma once
// One call from a model path to a runnable Model: load the checkpoint, find
// the architecture plugin registered for its model_type, build the model.
#include <filesystem>
#include <memory>

#include "allm/architecture.hpp"
#include "allm/checkpoint.hpp"
#include "allm/decoder.hpp"
#include "allm/model_loader.hpp"
#include "allm/tokenizer.hpp"

namespace allm {

struct LoadedModel {
  Checkpoint checkpoint;
  std::unique_ptr<Model> model;
  double load_ms = 0;  // checkpoint mapping + model construction
};

// Architecture plugins must already be registered (the host loads them).
// Throws UnsupportedError listing the installed architectures when none fits.
LoadedModel load_model(const std::filesystem::path& path, const ModelOptions& options = {});
// A model resolve_model() found: its checkpoint, with a local store's
// parameter layer (Ollama's params) applied as generation defaults, built.
// The one way every front end (the local provider, allm run --prompt-tokens,
// logits, bench) goes from a resolved model to a runnable one.
LoadedModel load_model(const ResolvedModel& resolved, const ModelOptions& options = {});
// A checkpoint's tokenizer, through the tokenizer plugins' can_load
// (allm/tokenizer_loader.hpp): from its directory (or the tokenizer.json
// beside a single-file checkpoint); for a tokenizer.json document synthesized
// from the checkpoint (GGUF), the best factory whose load_json takes it (a
// factory reading files only throws UnsupportedError and the next is asked).
// ModelLoadError when the checkpoint has no tokenizer any plugin can load.
std::unique_ptr<Tokenizer> load_checkpoint_tokenizer(const Checkpoint& checkpoint);
// Builds the model for an already loaded checkpoint, on options.backend, or
// else the registered backend options.backend_name names (empty: the usable
// one with the highest score; allm/backend.hpp), or else (no backend plugin
// loaded) the built-in CPU backend.
std::unique_ptr<Model> build_model(const Checkpoint& checkpoint, const ModelOptions& options = {});

// What the checkpoint's architecture plugin binds, without building a model:
// its DecoderSpec and DecoderWeights (the plugin's own tensor names and
// shapes, checked as for a run), every matrix in its stored format (GGUF
// blocks not interleaved) and nothing uploaded anywhere. For planning
// (allm/tensor_parallel.hpp, allm models show --tensor-parallel). An
// architecture whose model is not the shared decoder throws UnsupportedError.
struct DecoderDescription {
  DecoderSpec spec;
  DecoderWeights weights;
};
DecoderDescription describe_decoder(const Checkpoint& checkpoint);

}  // namespace allm
