// SigLIP as Gemma 3 ships it (896x896 images, 14-pixel patches: 4096 patches,
// width 1152, MLP 4304, 16 heads, 27 layers) with random BF16 weights, timed
// on the CPU: one image through `--layers` of its layers (default 2; the rest
// scale linearly: every layer does the same work), printed per layer and
// extrapolated to all 27, plus the preprocessing (resize + normalise).
//
//   vision_encoder_bench [--layers N] [--threads N] [--image-size S]
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>

#include "allm/checkpoint.hpp"
#include "allm/image_resample.hpp"
#include "allm/siglip.hpp"

using namespace allm;

namespace {

uint16_t to_bf16(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return static_cast<uint16_t>((u + 0x7fff + ((u >> 16) & 1)) >> 16);
}

// A BF16 tensor of normal(0, scale) values, owned by the store.
void add_random(MappedWeightStore& store, std::mt19937& rng, const std::string& name, std::vector<int64_t> shape,
                float scale, float offset = 0) {
  int64_t n = 1;
  for (auto d : shape) n *= d;
  auto buf = std::make_shared<std::vector<uint16_t>>(static_cast<size_t>(n));
  std::normal_distribution<float> nd(0.0f, scale);
  for (auto& v : *buf) v = to_bf16(offset + nd(rng));
  Tensor t;
  t.name = name;
  t.dtype = DType::BF16;
  t.shape = std::move(shape);
  t.data = buf->data();
  t.nbytes = buf->size() * 2;
  store.keep(buf);
  store.add(std::move(t));
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

int main(int argc, char** argv) {
  int layers = 2, threads = 0, image = 896;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string a = argv[i];
    if (a == "--layers") layers = std::atoi(argv[i + 1]);
    else if (a == "--threads") threads = std::atoi(argv[i + 1]);
    else if (a == "--image-size") image = std::atoi(argv[i + 1]);
  }
  SiglipConfig c;
  c.hidden = 1152, c.intermediate = 4304, c.layers = layers, c.heads = 16, c.image_size = image, c.patch = 14;
  const int64_t H = c.hidden, I = c.intermediate;
  auto store = std::make_shared<MappedWeightStore>("random");
  std::mt19937 rng(7);
  add_random(*store, rng, "embeddings.patch_embedding.weight", {H, 3, 14, 14}, 0.04f);
  add_random(*store, rng, "embeddings.patch_embedding.bias", {H}, 0.02f);
  add_random(*store, rng, "embeddings.position_embedding.weight", {c.patches(), H}, 0.3f);
  for (int l = 0; l < layers; ++l) {
    const std::string p = "encoder.layers." + std::to_string(l) + ".";
    for (const char* n : {"layer_norm1", "layer_norm2"}) {
      add_random(*store, rng, p + n + ".weight", {H}, 0.1f, 1.0f);
      add_random(*store, rng, p + n + ".bias", {H}, 0.05f);
    }
    for (const char* n : {"q_proj", "k_proj", "v_proj", "out_proj"}) {
      add_random(*store, rng, p + "self_attn." + n + ".weight", {H, H}, 0.03f);
      add_random(*store, rng, p + "self_attn." + n + ".bias", {H}, 0.02f);
    }
    add_random(*store, rng, p + "mlp.fc1.weight", {I, H}, 0.03f);
    add_random(*store, rng, p + "mlp.fc1.bias", {I}, 0.02f);
    add_random(*store, rng, p + "mlp.fc2.weight", {H, I}, 0.015f);
    add_random(*store, rng, p + "mlp.fc2.bias", {H}, 0.02f);
  }
  add_random(*store, rng, "post_layernorm.weight", {H}, 0.1f, 1.0f);
  add_random(*store, rng, "post_layernorm.bias", {H}, 0.05f);
  Checkpoint ckpt;
  ckpt.source = "random";
  ckpt.weights = store;
  SiglipVisionTower tower(ckpt, "", c, threads);

  ImageData photo{std::vector<uint8_t>(1280 * 960 * 3), 1280, 960, 3};
  for (size_t i = 0; i < photo.pixels.size(); ++i) photo.pixels[i] = static_cast<uint8_t>(rng());
  auto t0 = std::chrono::steady_clock::now();
  const ImageData resized = resize_image(photo, image, image, ResampleFilter::bilinear);
  PixelValues px{3, image, image, std::vector<float>(static_cast<size_t>(3 * image * image)), {}};
  for (int ch = 0; ch < 3; ++ch)
    for (int64_t i = 0; i < int64_t(image) * image; ++i)
      px.data[ch * image * image + i] = (resized.pixels[i * 3 + ch] - 127.5f) / 127.5f;
  const double pre = seconds_since(t0);

  tower.forward(px);  // warm-up (thread pool, pages)
  double best = 1e30;
  for (int r = 0; r < 2; ++r) {
    t0 = std::chrono::steady_clock::now();
    tower.forward(px);
    best = std::min(best, seconds_since(t0));
  }
  const double per_layer = best / layers;
  std::printf("SigLIP %dx%d (%lld patches, width %lld, BF16 weights), %d layer(s): %.2f s; %.2f s per layer; "
              "27 layers (Gemma 3): ~%.1f s per image\n",
              image, image, static_cast<long long>(c.patches()), static_cast<long long>(H), layers, best, per_layer,
              per_layer * 27);
  std::printf("preprocessing 1280x960 -> %dx%d (resize, normalise): %.1f ms\n", image, image, pre * 1000);
  return 0;
}
