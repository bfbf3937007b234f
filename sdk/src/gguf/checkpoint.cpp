// A GGUF file as an allm::Checkpoint: HF config and names, tensor views into
// the mapping (stacked experts split into per-expert views), 1 + w norms
// (Gemma's, as the family's table says) shifted back by -1 (llama.cpp's
// converter stored 1 + w; the engine applies 1 + w).
#include <algorithm>
#include <map>

#include "allm/error.hpp"
#include "allm/gguf.hpp"
#include "allm/gguf_family.hpp"
#include "allm/log.hpp"
#include "gguf/blocks.hpp"

namespace allm::gguf {
namespace {

class GgufWeights : public WeightStore {
 public:
  explicit GgufWeights(std::shared_ptr<File> file) : file_(std::move(file)) {}
  const Tensor* find(const std::string& name) const override {
    auto it = tensors_.find(name);
    return it == tensors_.end() ? nullptr : &it->second;
  }
  const Tensor& get(const std::string& name) const override {
    if (auto* t = find(name)) return *t;
    throw ModelLoadError(file_->origin() + ": no tensor '" + name + "' in this GGUF checkpoint");
  }
  std::vector<std::string> names() const override {
    std::vector<std::string> out;
    for (auto& [n, t] : tensors_) out.push_back(n);
    return out;
  }
  uint64_t total_bytes() const override {
    uint64_t n = 0;
    for (auto& t : file_->tensors()) n += t.nbytes;
    return n;
  }
  void add(const std::string& name, Tensor t) {
    t.name = name;
    if (!tensors_.emplace(name, std::move(t)).second)
      throw ModelLoadError(file_->origin() + ": two GGUF tensors map to '" + name + "'");
  }
  // An owned float copy (for the few small tensors that must be adjusted).
  Tensor own(const Tensor& src, std::vector<float> values) {
    owned_.push_back(std::move(values));
    Tensor t = src;
    t.dtype = DType::F32;
    t.data = owned_.back().data();
    t.nbytes = owned_.back().size() * sizeof(float);
    return t;
  }
  const File& file() const { return *file_; }

 protected:
  void source_replaced(const Tensor& t) const override { file_->release(t.data, t.nbytes); }

 private:
  std::shared_ptr<File> file_;
  std::map<std::string, Tensor> tensors_;
  std::vector<std::vector<float>> owned_;
};

std::string replace_braces(std::string pattern, int64_t e) {
  auto p = pattern.find("{}");
  return pattern.replace(p, 2, std::to_string(e));
}

GenerationDefaults generation_from(const File& f) {
  GenerationDefaults g;
  if (auto v = f.get_float("general.sampling.temp")) g.temperature = *v;
  if (auto v = f.get_float("general.sampling.top_p")) g.top_p = *v;
  if (auto v = f.get_float("general.sampling.min_p")) g.min_p = *v;
  if (auto v = f.get_float("general.sampling.penalty_repeat")) g.repetition_penalty = *v;
  if (auto v = f.get_int("general.sampling.top_k")) g.top_k = int(*v);
  // End tokens: EOS, then end-of-turn and end-of-message (each once).
  for (const char* key : {"tokenizer.ggml.eos_token_id", "tokenizer.ggml.eot_token_id", "tokenizer.ggml.eom_token_id"})
    if (auto v = f.get_int(key); v && std::find(g.eos_token_ids.begin(), g.eos_token_ids.end(), *v) == g.eos_token_ids.end())
      g.eos_token_ids.push_back(int32_t(*v));
  if (auto v = f.get_int("tokenizer.ggml.bos_token_id")) g.bos_token_id = int32_t(*v);
  return g;
}

}  // namespace

Checkpoint load_checkpoint(const std::filesystem::path& path) {
  auto file = File::open(path);
  Checkpoint ck;
  ck.source = path;
  ck.config = config_from_gguf(*file);
  ck.model_type = ck.config["model_type"].get<std::string>();
  const GgufFamily* family = gguf_family(ck.model_type);
  const bool plus_one = family && family->norms_plus_one;
  auto weights = std::make_shared<GgufWeights>(file);

  for (const auto& info : file->tensors()) {
    if (info.name == "rope_freqs.weight") continue;  // folded into config.rope_freq_factors
    Tensor view = file->view(info);
    auto hf = hf_tensor_name(ck.model_type, info.name);
    if (!hf) {
      log().debug("{}: tensor '{}' has no HF name; kept under its GGUF name", path.string(), info.name);
      weights->add(info.name, view);
      continue;
    }
    if (hf->find("{}") != std::string::npos) {
      if (view.shape.size() != 3)
        throw ModelLoadError(path.string() + ": tensor '" + info.name + "' should be 3-D (experts, rows, cols)");
      int64_t experts = view.shape[0];
      size_t stride = info.nbytes / size_t(experts);
      for (int64_t e = 0; e < experts; ++e) {
        Tensor t = view;
        t.shape = {view.shape[1], view.shape[2]};
        t.data = static_cast<const uint8_t*>(view.data) + size_t(e) * stride;
        t.nbytes = stride;
        weights->add(replace_braces(*hf, e), t);
      }
      continue;
    }
    if (plus_one && info.name.size() >= 11 && info.name.compare(info.name.size() - 11, 11, "norm.weight") == 0) {
      std::vector<float> v(size_t(view.numel()));
      dequantize_row(view.dtype, view.data, v.data(), view.numel());
      for (auto& x : v) x -= 1.0f;
      weights->add(*hf, weights->own(view, std::move(v)));
      continue;
    }
    weights->add(*hf, view);
  }
  if (!weights->find("model.embed_tokens.weight"))
    throw ModelLoadError(path.string() + ": tensor 'token_embd.weight' is missing");

  ck.weights = weights;
  ck.generation = generation_from(*file);
  ck.quantization.mode = "gguf";
  ck.dtype = "float32";
  if (auto t = file->get_string("tokenizer.chat_template")) ck.chat_template = *t;
  if (file->find("tokenizer.ggml.model")) ck.tokenizer_json_text = tokenizer_json_from_gguf(*file);
  return ck;
}

}  // namespace allm::gguf
