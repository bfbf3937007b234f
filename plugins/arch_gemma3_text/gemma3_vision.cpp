// Gemma 3 with vision (model_type gemma3, Gemma3ForConditionalGeneration):
// the gemma3_text decoder plus SigLIP, whose last hidden states are average-
// pooled (k x k patches -> one soft token: 4096 patches -> 256 tokens on the
// published checkpoints), RMS-normed (1 + w) and projected to the text width
// (mm_input_projection_weight, [vision hidden, text hidden]). In the prompt an
// image is "\n\n<start_of_image>" + mm_tokens_per_image x "<image_soft_token>"
// + "<end_of_image>\n\n" (Gemma3Processor's full_image_sequence); the soft
// tokens attend to each other both ways. Pixels: preprocessor_config.json's
// resize (to size.height x size.width), rescale and normalise.
#include "gemma3_vision.hpp"

#include <cmath>
#include <fstream>

#include "allm/arch_helpers.hpp"
#include "allm/error.hpp"
#include "allm/image_resample.hpp"
#include "allm/json_depth.hpp"
#include "allm/siglip.hpp"
#include "allm/vision_language_model.hpp"

namespace allm::gemma3 {

namespace {

using nlohmann::json;

json read_json(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) return json::object();
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (std::string depth = json_depth_error(text); !depth.empty()) throw ModelLoadError(file.string() + ": " + depth);
  try {
    json j = json::parse(text);
    if (!j.is_object()) throw ModelLoadError(file.string() + ": not a JSON object");
    return j;
  } catch (const json::parse_error& e) {
    throw ModelLoadError(file.string() + ": malformed JSON: " + e.what());
  }
}

// The first prefix under which `probe` exists.
std::string find_prefix(const WeightStore& w, const std::vector<std::string>& prefixes, const std::string& probe,
                        const std::string& what) {
  for (const auto& p : prefixes)
    if (w.find(p + probe)) return p;
  throw ModelLoadError("gemma3 model: no " + what + " weights (looked for " + prefixes.front() + probe + " and " +
                       std::to_string(prefixes.size() - 1) + " other spellings)");
}

struct Preprocessing {
  bool resize = true, rescale = true, normalize = true;
  int64_t width = 0, height = 0;
  ResampleFilter filter = ResampleFilter::bilinear;
  double rescale_factor = 1.0 / 255;
  double mean[3] = {0.5, 0.5, 0.5}, std[3] = {0.5, 0.5, 0.5};
};

Preprocessing read_preprocessing(const std::filesystem::path& file, int64_t image_size) {
  const json j = read_json(file);
  const std::string where = file.string();
  Preprocessing p;
  p.width = p.height = image_size;
  auto flag = [&](const char* key, bool fallback) {
    auto it = j.find(key);
    if (it == j.end() || it->is_null()) return fallback;
    if (!it->is_boolean()) throw ModelLoadError(where + ": " + key + " is " + it->dump() + ", not true/false");
    return it->get<bool>();
  };
  p.resize = flag("do_resize", true);
  p.rescale = flag("do_rescale", true);
  p.normalize = flag("do_normalize", true);
  if (flag("do_pan_and_scan", false))
    throw ModelLoadError(where + ": do_pan_and_scan is true; pan and scan (extra crops) is not supported");
  if (auto it = j.find("size"); it != j.end() && it->is_object()) {
    if (!(*it)["height"].is_number_integer() || !(*it)["width"].is_number_integer())
      throw ModelLoadError(where + ": size must hold integer height and width");
    p.height = (*it)["height"].get<int64_t>();
    p.width = (*it)["width"].get<int64_t>();
  }
  if (p.height != image_size || p.width != image_size)
    throw ModelLoadError(where + ": size " + std::to_string(p.width) + "x" + std::to_string(p.height) +
                         " differs from the vision tower's image_size " + std::to_string(image_size));
  if (auto it = j.find("resample"); it != j.end() && !it->is_null()) {
    if (!it->is_number_integer()) throw ModelLoadError(where + ": resample is " + it->dump() + ", not an integer");
    p.filter = resample_filter_from_pil(it->get<int>(), where);
  }
  if (auto it = j.find("rescale_factor"); it != j.end() && !it->is_null()) {
    if (!it->is_number() || it->get<double>() <= 0) throw ModelLoadError(where + ": rescale_factor must be > 0");
    p.rescale_factor = it->get<double>();
  }
  for (const char* key : {"image_mean", "image_std"}) {
    auto it = j.find(key);
    if (it == j.end() || it->is_null()) continue;
    double* dst = std::string(key) == "image_mean" ? p.mean : p.std;
    if (it->is_number()) {
      dst[0] = dst[1] = dst[2] = it->get<double>();
    } else if (it->is_array() && it->size() == 3 && (*it)[0].is_number() && (*it)[1].is_number() &&
               (*it)[2].is_number()) {
      for (int c = 0; c < 3; ++c) dst[c] = (*it)[c].get<double>();
    } else {
      throw ModelLoadError(where + ": " + key + " must be a number or three numbers");
    }
  }
  for (double s : p.std)
    if (s == 0) throw ModelLoadError(where + ": image_std holds 0");
  return p;
}

class Gemma3Vision final : public VisionEncoder {
 public:
  Gemma3Vision(const Checkpoint& ckpt, const ModelOptions& options, int64_t text_hidden) {
    const ConfigView cfg(ckpt);
    const std::string where = ckpt.source.string();
    siglip_ = std::make_unique<SiglipVisionTower>(
        ckpt,
        find_prefix(*ckpt.weights,
                    {"vision_tower.vision_model.", "vision_tower.", "model.vision_tower.vision_model.",
                     "model.vision_tower."},
                    "embeddings.patch_embedding.weight", "vision tower"),
        siglip_config(cfg.json()["vision_config"], where), options.threads);
    const SiglipConfig& sc = siglip_->config();
    tokens_ = cfg.integer("mm_tokens_per_image", 256);
    side_ = static_cast<int64_t>(std::llround(std::sqrt(static_cast<double>(tokens_))));
    if (side_ * side_ != tokens_ || sc.patches_per_side() % side_ != 0)
      throw ModelLoadError(where + ": mm_tokens_per_image " + std::to_string(tokens_) +
                           " is not a square dividing the " + std::to_string(sc.patches_per_side()) +
                           " patches per side");
    image_token_ = static_cast<int32_t>(cfg.integer("image_token_index", cfg.integer("image_token_id", 262144)));
    const std::string pp = find_prefix(*ckpt.weights, {"multi_modal_projector.", "model.multi_modal_projector."},
                                       "mm_input_projection_weight", "multi-modal projector");
    const WeightBinder b(ckpt);
    norm_ = b.vector(pp + "mm_soft_emb_norm.weight", sc.hidden);
    // Stored [vision hidden, text hidden] (x W): kept transposed, as the backend multiplies.
    const std::vector<float> w = to_f32(b.matrix(pp + "mm_input_projection_weight", sc.hidden, text_hidden));
    projection_.resize(w.size());
    for (int64_t i = 0; i < sc.hidden; ++i)
      for (int64_t j = 0; j < text_hidden; ++j) projection_[j * sc.hidden + i] = w[i * text_hidden + j];
    projection_t_.dtype = DType::F32;
    projection_t_.shape = {text_hidden, sc.hidden};
    projection_t_.data = projection_.data();
    projection_t_.nbytes = projection_.size() * sizeof(float);
    text_hidden_ = text_hidden;
    backend_ = make_cpu_backend(options.threads);
    pre_ = read_preprocessing(ckpt.source / "preprocessor_config.json", sc.image_size);
    // The special tokens' texts, as the tokenizer's config names them.
    json tc = ckpt.tokenizer_config_json ? read_json(*ckpt.tokenizer_config_json) : json::object();
    auto text_of = [&](const char* key, const char* fallback) {
      auto it = tc.find(key);
      return it != tc.end() && it->is_string() ? it->get<std::string>() : std::string(fallback);
    };
    boi_ = text_of("boi_token", "<start_of_image>");
    eoi_ = text_of("eoi_token", "<end_of_image>");
    image_text_ = text_of("image_token", "<image_soft_token>");
  }

  std::string image_marker() const override { return boi_; }
  std::string expand_marker(const ImageData&) const override {
    std::string s = "\n\n" + boi_;
    for (int64_t i = 0; i < tokens_; ++i) s += image_text_;
    return s + eoi_ + "\n\n";
  }
  int32_t soft_token_id() const override { return image_token_; }
  int64_t soft_token_count(const ImageData&) const override { return tokens_; }
  bool bidirectional() const override { return true; }

  PixelValues preprocess(const ImageData& image) const override {
    ImageData rgb = image_to_rgb(image);
    if (pre_.resize) rgb = resize_image(rgb, static_cast<int>(pre_.width), static_cast<int>(pre_.height), pre_.filter);
    const int64_t S = siglip_->config().image_size;
    if (rgb.width != S || rgb.height != S)
      throw MediaError("image is " + std::to_string(rgb.width) + "x" + std::to_string(rgb.height) +
                       " pixels and the processor does not resize; this model takes " + std::to_string(S) + "x" +
                       std::to_string(S));
    PixelValues px{3, S, S, std::vector<float>(static_cast<size_t>(3 * S * S)), {}};
    // As the torchvision processors compute it: rescale and normalise fused,
    // (x - mean / factor) / (std / factor) in F32.
    float sub[3], div[3];
    for (int c = 0; c < 3; ++c) {
      const double f = pre_.rescale ? pre_.rescale_factor : 1.0;
      sub[c] = pre_.normalize ? static_cast<float>(static_cast<float>(pre_.mean[c]) * (1.0 / f)) : 0.0f;
      div[c] = pre_.normalize ? static_cast<float>(static_cast<float>(pre_.std[c]) * (1.0 / f)) : static_cast<float>(1.0 / f);
    }
    for (int64_t c = 0; c < 3; ++c)
      for (int64_t i = 0; i < S * S; ++i)
        px.data[c * S * S + i] = (static_cast<float>(rgb.pixels[i * 3 + c]) - sub[c]) / div[c];
    return px;
  }

  std::vector<float> encode(const PixelValues& pixels) override {
    const std::vector<float> hidden = siglip_->forward(pixels);
    const SiglipConfig& sc = siglip_->config();
    const int64_t H = sc.hidden, pps = sc.patches_per_side(), k = pps / side_;
    std::vector<float> pooled(tokens_ * H, 0.0f);
    for (int64_t ty = 0; ty < side_; ++ty)
      for (int64_t tx = 0; tx < side_; ++tx) {
        float* dst = pooled.data() + (ty * side_ + tx) * H;
        for (int64_t ky = 0; ky < k; ++ky)
          for (int64_t kx = 0; kx < k; ++kx) {
            const float* src = hidden.data() + ((ty * k + ky) * pps + tx * k + kx) * H;
            for (int64_t c = 0; c < H; ++c) dst[c] += src[c];
          }
        for (int64_t c = 0; c < H; ++c) dst[c] /= static_cast<float>(k * k);
      }
    backend_->rms_norm(pooled.data(), norm_.data(), tokens_, H, sc.eps, true, pooled.data());
    std::vector<float> out(tokens_ * text_hidden_);
    backend_->linear(projection_t_, pooled.data(), tokens_, out.data());
    return out;
  }

 private:
  std::unique_ptr<SiglipVisionTower> siglip_;
  std::shared_ptr<Backend> backend_;
  int64_t tokens_ = 0, side_ = 0, text_hidden_ = 0;
  int32_t image_token_ = 0;
  std::vector<float> norm_, projection_;
  Tensor projection_t_;
  Preprocessing pre_;
  std::string boi_, eoi_, image_text_;
};

}  // namespace

Checkpoint language_model_view(const Checkpoint& ckpt) {
  const std::string lm = find_prefix(*ckpt.weights, {"language_model.model.", "model.language_model.", "model."},
                                     "embed_tokens.weight", "language model");
  auto store = std::make_shared<MappedWeightStore>(ckpt.source.string());
  store->keep(ckpt.weights);
  for (const std::string& name : ckpt.weights->names()) {
    Tensor t = *ckpt.weights->find(name);
    if (name.starts_with(lm)) t.name = "model." + name.substr(lm.size());
    else if (name == "language_model.lm_head.weight" || name == "lm_head.weight") t.name = "lm_head.weight";
    else continue;
    store->add(std::move(t));
  }
  Checkpoint view = ckpt;
  view.weights = std::move(store);
  return view;
}

bool has_vision(const Checkpoint& ckpt) {
  auto it = ckpt.config.find("vision_config");
  return it != ckpt.config.end() && it->is_object();
}

std::unique_ptr<Model> make_vision_model(const Checkpoint& ckpt, const ModelOptions& options,
                                         std::unique_ptr<Model> text) {
  const int64_t hidden = text->info().hidden_size;
  auto vision = std::make_unique<Gemma3Vision>(ckpt, options, hidden);
  return std::make_unique<VisionLanguageModel>(std::move(text), std::move(vision), "gemma3");
}

}  // namespace allm::gemma3
