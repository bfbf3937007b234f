#include "allm/engine.hpp"

#include <chrono>
#include <cstdlib>
#include <string>

#include "allm/backend.hpp"
#include "allm/error.hpp"
#include "allm/model_loader.hpp"
#include "allm/registry.hpp"
#include "engine/decoder_capture.hpp"

namespace allm {
namespace {

// The config's layer count is a claim; the weights are the fact. Architectures
// size per-layer tables from the claim before binding a single tensor, so a
// config saying num_hidden_layers = 10^9 would allocate for minutes. Checked
// here, for every architecture, against the highest `layers.<i>.` index the
// weights hold (when they name layers that way at all).
void check_layer_count(const Checkpoint& ckpt) {
  auto it = ckpt.config.find("num_hidden_layers");
  if (it == ckpt.config.end() || !it->is_number_integer() || !ckpt.weights) return;
  const int64_t claimed = it->get<int64_t>();
  int64_t present = 0;
  bool named_layers = false;
  for (const std::string& name : ckpt.weights->names()) {
    size_t at = name.find("layers.");
    if (at == std::string::npos || (at > 0 && name[at - 1] != '.')) continue;
    const char* digits = name.c_str() + at + 7;
    char* end = nullptr;
    long long index = std::strtoll(digits, &end, 10);
    if (end == digits || *end != '.' || index < 0) continue;
    named_layers = true;
    present = std::max<int64_t>(present, index + 1);
  }
  if (named_layers && claimed > present)
    throw ModelLoadError(ckpt.source.string() + ": config num_hidden_layers = " + std::to_string(claimed) +
                         ", but the weights hold only " + std::to_string(present) + " layer(s)");
}

}  // namespace

std::unique_ptr<Model> build_model(const Checkpoint& ckpt, const ModelOptions& options) {
  check_layer_count(ckpt);
  std::vector<std::string> installed;
  for (const auto& e : Registry::instance().list(ALLM_KIND_ARCHITECTURE)) installed.push_back(e.name);
  require_architecture(ckpt.model_type, installed);
  // The backend plugins' best (or the one named); none registered: the decoder's built-in CPU backend.
  ModelOptions chosen = options;
  if (!chosen.backend) chosen.backend = create_backend(options.backend_name, options.threads);
  return Registry::instance().architecture(ckpt.model_type)->create(ckpt, chosen);
}

namespace detail {

DecoderDescription*& decoder_capture() noexcept {
  thread_local DecoderDescription* open = nullptr;
  return open;
}

}  // namespace detail

DecoderDescription describe_decoder(const Checkpoint& ckpt) {
  check_layer_count(ckpt);
  std::vector<std::string> installed;
  for (const auto& e : Registry::instance().list(ALLM_KIND_ARCHITECTURE)) installed.push_back(e.name);
  require_architecture(ckpt.model_type, installed);
  DecoderDescription out;
  struct Open {  // closed however create() ends
    DecoderDescription* previous;
    explicit Open(DecoderDescription* d) : previous(detail::decoder_capture()) { detail::decoder_capture() = d; }
    ~Open() { detail::decoder_capture() = previous; }
  } open(&out);
  try {
    Registry::instance().architecture(ckpt.model_type)->create(ckpt, ModelOptions{});
  } catch (const detail::DecoderCaptured&) {
    return out;
  }
  throw UnsupportedError(ckpt.source.string() + ": the " + ckpt.model_type +
                         " architecture builds its model without the shared decoder, so it cannot be described");
}

LoadedModel load_model(const std::filesystem::path& path, const ModelOptions& options) {
  const auto t0 = std::chrono::steady_clock::now();
  LoadedModel out;
  out.checkpoint = load_checkpoint(path);
  out.model = build_model(out.checkpoint, options);
  out.load_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  return out;
}

LoadedModel load_model(const ResolvedModel& resolved, const ModelOptions& options) {
  const auto t0 = std::chrono::steady_clock::now();
  LoadedModel out;
  out.checkpoint = load_checkpoint(resolved.path);
  if (resolved.stored) apply_stored_defaults(*resolved.stored, out.checkpoint);
  out.model = build_model(out.checkpoint, options);
  out.load_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  return out;
}

}  // namespace allm
