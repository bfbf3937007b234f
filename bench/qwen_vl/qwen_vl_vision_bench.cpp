// Time of Qwen2.5-VL's vision tower (patch embedding, 32 blocks of which 4
// attend over the whole image, merger) on images of a few sizes, with the
// vision config of Qwen2.5-VL-3B/7B-Instruct and random BF16 weights (what
// those checkpoints store):
//   qwen_vl_vision_bench [--threads N] [--side 448] [--side 896] [--depth 32]
// Prints one line per image side: patches, soft tokens, seconds, patches/s.
#include <chrono>
#include <ctime>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "allm/arch_helpers.hpp"
#include "allm/checkpoint.hpp"
#include "vision_tower.hpp"

namespace {

using namespace allm;

uint16_t to_bf16(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return static_cast<uint16_t>((u + 0x7fff + ((u >> 16) & 1)) >> 16);
}

void add(MappedWeightStore& store, const std::string& name, std::vector<int64_t> shape, std::mt19937& rng) {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  auto bytes = std::make_shared<std::vector<uint16_t>>(static_cast<size_t>(n));
  const bool vec = shape.size() == 1;
  std::normal_distribution<float> dist(vec ? 1.0f : 0.0f, vec ? 0.1f : 0.02f);
  for (auto& v : *bytes) v = to_bf16(dist(rng));
  Tensor t;
  t.name = name;
  t.dtype = DType::BF16;
  t.shape = std::move(shape);
  t.data = bytes->data();
  t.nbytes = bytes->size() * 2;
  store.add(t);
  store.keep(bytes);
}

}  // namespace

int main(int argc, char** argv) {
  int threads = 0;
  int64_t depth = 32;
  std::vector<int64_t> sides;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string a = argv[i];
    if (a == "--threads") threads = std::atoi(argv[i + 1]);
    else if (a == "--side") sides.push_back(std::atoll(argv[i + 1]));
    else if (a == "--depth") depth = std::atoll(argv[i + 1]);
  }
  if (sides.empty()) sides = {448};
  const int64_t C = 1280, I = 3420, out = 2048, heads = 16, M = 4 * C;
  auto store = std::make_shared<MappedWeightStore>("random");
  std::mt19937 rng(7);
  add(*store, "visual.patch_embed.proj.weight", {C, 3, 2, 14, 14}, rng);
  for (int64_t b = 0; b < depth; ++b) {
    const std::string p = "visual.blocks." + std::to_string(b) + ".";
    add(*store, p + "norm1.weight", {C}, rng);
    add(*store, p + "norm2.weight", {C}, rng);
    add(*store, p + "attn.qkv.weight", {3 * C, C}, rng);
    add(*store, p + "attn.qkv.bias", {3 * C}, rng);
    add(*store, p + "attn.proj.weight", {C, C}, rng);
    add(*store, p + "attn.proj.bias", {C}, rng);
    for (const char* m : {"gate_proj", "up_proj"}) {
      add(*store, p + "mlp." + m + ".weight", {I, C}, rng);
      add(*store, p + "mlp." + m + ".bias", {I}, rng);
    }
    add(*store, p + "mlp.down_proj.weight", {C, I}, rng);
    add(*store, p + "mlp.down_proj.bias", {C}, rng);
  }
  add(*store, "visual.merger.ln_q.weight", {C}, rng);
  add(*store, "visual.merger.mlp.0.weight", {M, M}, rng);
  add(*store, "visual.merger.mlp.0.bias", {M}, rng);
  add(*store, "visual.merger.mlp.2.weight", {out, M}, rng);
  add(*store, "visual.merger.mlp.2.bias", {out}, rng);
  std::vector<int64_t> full;
  for (int64_t b = 7; b < depth; b += 8) full.push_back(b);
  Checkpoint ckpt;
  ckpt.source = "random-qwen2.5-vl-vision";
  ckpt.model_type = "qwen2_5_vl";
  ckpt.weights = store;
  ckpt.config = {{"vision_config",
                  {{"depth", depth}, {"hidden_size", C}, {"intermediate_size", I}, {"num_heads", heads},
                   {"out_hidden_size", out}, {"window_size", 112}, {"fullatt_block_indexes", full}}}};
  ConfigView cfg(ckpt);
  qwen_vl::VisionTower tower(ckpt, qwen_vl::VisionSpec::from_config(cfg), "visual.", threads);
  for (int64_t side : sides) {
    const int64_t g = side / 14;
    const qwen_vl::PatchGrid grid{1, g, g};
    std::vector<float> pixels(static_cast<size_t>(grid.patches() * 1176));
    std::normal_distribution<float> px(0, 1);
    for (auto& v : pixels) v = px(rng);
    // Wall and process CPU time (the CPU seconds say more on a shared, loaded machine).
    timespec c0, c1;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c0);
    const auto t0 = std::chrono::steady_clock::now();
    const auto rows = tower.forward(pixels.data(), grid);
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c1);
    const double cpu = (c1.tv_sec - c0.tv_sec) + (c1.tv_nsec - c0.tv_nsec) * 1e-9;
    std::printf("side %lld px: %lld patches -> %lld soft tokens, %.2f s wall, %.2f s CPU, %.1f patches/s "
                "(depth %lld, %d threads)\n",
                static_cast<long long>(side), static_cast<long long>(grid.patches()),
                static_cast<long long>(rows.size() / out), s, cpu, grid.patches() / s, static_cast<long long>(depth),
                threads);
  }
  return 0;
}
