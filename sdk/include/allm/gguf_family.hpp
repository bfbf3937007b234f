#pragma once
// What a model family knows about its GGUF form, declared by the family's
// architecture plugin (a static GgufFamily table it registers when loaded)
// rather than by the shared GGUF code: llama.cpp's architecture name(s) for
// it, its tensor names, and the config keys only it has. The shared reader
// (config_map.cpp, tensor_names.cpp) and writer (convert.cpp) handle what
// every family has (sizes, heads, rope, the Llama tensor names) and ask the
// table for the rest.
#include <deque>
#include <functional>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "allm/checkpoint.hpp"
#include "allm/gguf.hpp"

namespace allm::gguf {

// Tensors a family's writer makes from the stored ones (e.g. fused experts
// split): kept alive until the file is written.
struct DerivedTensors {
  std::deque<std::vector<float>> data;
  std::deque<Tensor> tensors;
  std::vector<std::pair<std::string, const Tensor*>> named;  // HF-style name -> tensor to write
  std::set<std::string> replaced;                            // stored names they stand for

  void add(const std::string& name, std::vector<float> values, std::vector<int64_t> shape);
};

struct GgufFamily {
  std::string model_type;    // the Hugging Face model_type
  std::string architecture;  // llama.cpp's general.architecture
  // Several families under one architecture name (llama: llama, mixtral): the
  // one whose `claims` accepts the file. Null: every file of `architecture`.
  std::function<bool(const File&)> claims;
  bool readable = true;  // false: written under another family's name (mistral as llama), read as that one
  bool writable = true;  // false: allm convert refuses it
  // Per-layer names beyond the shared Llama ones: GGUF suffix after "blk.N."
  // -> HF suffix after "model.layers.N." ("{}" = expert index of a stacked
  // [experts, rows, cols] tensor). Entries here override the shared ones.
  std::vector<std::pair<std::string, std::string>> layer_tensors;
  bool permuted_qk = false;     // llama.cpp's converter permuted Q/K rows (rotary pairs adjacent)
  bool norms_plus_one = false;  // norm weights stored as 1 + w (Gemma)
  // Config keys only this family has, from the file's metadata (`arch.` keys);
  // runs after the shared keys are in `config`.
  std::function<void(const File&, nlohmann::json& config)> read_config;
  // Metadata keys only this family writes; throws UnsupportedError for a
  // config llama.cpp would run differently.
  std::function<void(const Checkpoint&, Writer&)> write_metadata;
  // Tensors to write in place of some stored ones.
  std::function<void(const Checkpoint&, DerivedTensors&)> derive_tensors;
};

// Registers (or replaces, by model_type) a family. Thread-safe; tables stay
// for the life of the process.
void register_gguf_family(GgufFamily family);
// The family of an HF model_type, or nullptr.
const GgufFamily* gguf_family(const std::string& model_type);
// The family that reads a file whose general.architecture is `architecture`,
// or nullptr.
const GgufFamily* gguf_family_reading(const File& file, const std::string& architecture);
// Names of the readable architectures, for error messages.
std::string gguf_architecture_names();

// What the Gemma families (gemma2, gemma3) share in GGUF: norms stored as
// 1 + w and the norm sandwich around attention and MLP under llama.cpp's
// names. A Gemma family's table starts from this and adds its own names and keys.
GgufFamily gemma_sandwich_family(std::string model_type, std::string architecture);
// The config every Gemma GGUF implies without saying (GELU-tanh,
// query_pre_attn_scalar = head_dim), its sliding window, and llama.cpp's fixed
// layer pattern: of every `period` layers the last attends fully, the others
// slide. For the families' read_config hooks.
void read_gemma_config(const File& file, nlohmann::json& config, int period);

// `<general.architecture>.<suffix>` as an integer (the first entry of a
// per-layer array whose entries agree), range-checked; ModelLoadError /
// UnsupportedError name the key. For read_config hooks.
std::optional<int64_t> metadata_int(const File& file, const std::string& suffix);
std::optional<double> metadata_number(const File& file, const std::string& suffix);

}  // namespace allm::gguf
