// Qwen2.5-VL's vision tower, computed in the processor's patch order.
//
// transformers permutes the patches into window order before the blocks and
// back after the merger. Attention is the only step that mixes patches, and
// it does not depend on the order of its keys, so here every patch keeps its
// place and attention runs over the set of patches of its window (or of its
// whole frame in the full-attention blocks): the same numbers, up to the order
// of a softmax's sums.
#include "vision_tower.hpp"

#include <algorithm>
#include <cmath>

#include "allm/error.hpp"

namespace allm::qwen_vl {

namespace {

std::string shape_text(const std::vector<int64_t>& s) {
  std::string out = "[";
  for (size_t i = 0; i < s.size(); ++i) out += (i ? ", " : "") + std::to_string(s[i]);
  return out + "]";
}

}  // namespace

VisionSpec VisionSpec::from_config(const ConfigView& cfg) {
  const auto& root = cfg.json();
  auto vc = root.find("vision_config");
  if (vc == root.end() || !vc->is_object()) cfg.fail("vision_config", "is missing (a Qwen2.5-VL checkpoint has one)");
  auto integer = [&](const char* key, std::optional<int64_t> fallback) -> int64_t {
    auto it = vc->find(key);
    if (it == vc->end() || it->is_null()) {
      if (!fallback) cfg.fail(std::string("vision_config.") + key, "is missing");
      return *fallback;
    }
    if (!it->is_number_integer() || it->get<int64_t>() <= 0)
      cfg.fail(std::string("vision_config.") + key, "must be a positive integer, not " + it->dump());
    return it->get<int64_t>();
  };
  VisionSpec s;
  s.depth = integer("depth", std::nullopt);
  s.hidden = integer("hidden_size", std::nullopt);
  s.heads = integer("num_heads", std::nullopt);
  s.intermediate = integer("intermediate_size", std::nullopt);
  s.out_hidden = integer("out_hidden_size", std::nullopt);
  s.in_channels = vc->contains("in_channels") ? integer("in_channels", 3) : integer("in_chans", 3);
  s.patch = integer("patch_size", 14);
  s.temporal_patch = integer("temporal_patch_size", 2);
  s.merge = integer("spatial_merge_size", 2);
  s.window = integer("window_size", 112);
  if (s.hidden % s.heads != 0 || s.head_dim() % 4 != 0)
    cfg.fail("vision_config.num_heads", "must divide hidden_size into heads of a multiple of 4 dims (2D rotary)");
  if (s.window % (s.merge * s.patch) != 0)
    cfg.fail("vision_config.window_size", "must be a multiple of patch_size * spatial_merge_size");
  const std::string act = vc->value("hidden_act", std::string("silu"));
  if (act != "silu") cfg.fail("vision_config.hidden_act", "'" + act + "' is not supported (Qwen2.5-VL uses silu)");
  if (auto fb = vc->find("fullatt_block_indexes"); fb != vc->end() && !fb->is_null()) {
    if (!fb->is_array()) cfg.fail("vision_config.fullatt_block_indexes", "must be a list of block numbers");
    for (const auto& v : *fb) {
      if (!v.is_number_integer() || v.get<int64_t>() < 0 || v.get<int64_t>() >= s.depth)
        cfg.fail("vision_config.fullatt_block_indexes", "holds " + v.dump() + ", not a block number below depth");
      s.full_attention_blocks.push_back(v.get<int64_t>());
    }
  }
  return s;
}

VisionTower::VisionTower(const Checkpoint& ckpt, const VisionSpec& spec, const std::string& prefix, int threads)
    : s_(spec), store_(ckpt.weights), be_(make_cpu_backend(threads)), pool_(std::make_unique<ThreadPool>(threads)) {
  WeightBinder b(ckpt);
  const int64_t C = s_.hidden, I = s_.intermediate, M = C * s_.merge * s_.merge;
  // The Conv3d kernel [C, in, t, p, p] with stride = kernel is one linear map
  // of each flattened patch (the processor flattens in the same order).
  const std::string pe = prefix + "patch_embed.proj.weight";
  const Tensor& conv = ckpt.weights->get(pe);
  const std::vector<int64_t> want = {C, s_.in_channels, s_.temporal_patch, s_.patch, s_.patch};
  if (conv.shape != want)
    throw ModelLoadError(ckpt.source.string() + ": tensor '" + pe + "' has shape " + shape_text(conv.shape) +
                         ", expected " + shape_text(want));
  if (dtype_size(conv.dtype) == 0)
    throw ModelLoadError(ckpt.source.string() + ": tensor '" + pe + "' is " + dtype_name(conv.dtype) +
                         "; the patch embedding must be F32, F16 or BF16");
  patch_embed_ = conv;
  patch_embed_.shape = {C, s_.patch_values()};
  for (int64_t i = 0; i < s_.depth; ++i) {
    const std::string p = prefix + "blocks." + std::to_string(i) + ".";
    Block blk;
    blk.norm1 = b.vector(p + "norm1.weight", C);
    blk.norm2 = b.vector(p + "norm2.weight", C);
    blk.qkv = b.matrix(p + "attn.qkv.weight", 3 * C, C);
    blk.qkv_bias = b.vector(p + "attn.qkv.bias", 3 * C);
    blk.proj = b.matrix(p + "attn.proj.weight", C, C);
    blk.proj_bias = b.vector(p + "attn.proj.bias", C);
    blk.gate = b.matrix(p + "mlp.gate_proj.weight", I, C);
    blk.gate_bias = b.vector(p + "mlp.gate_proj.bias", I);
    blk.up = b.matrix(p + "mlp.up_proj.weight", I, C);
    blk.up_bias = b.vector(p + "mlp.up_proj.bias", I);
    blk.down = b.matrix(p + "mlp.down_proj.weight", C, I);
    blk.down_bias = b.vector(p + "mlp.down_proj.bias", C);
    blocks_.push_back(std::move(blk));
  }
  merger_norm_ = b.vector(prefix + "merger.ln_q.weight", C);
  merger0_ = b.matrix(prefix + "merger.mlp.0.weight", M, M);
  merger_bias0_ = b.vector(prefix + "merger.mlp.0.bias", M);
  merger2_ = b.matrix(prefix + "merger.mlp.2.weight", s_.out_hidden, M);
  merger_bias2_ = b.vector(prefix + "merger.mlp.2.bias", s_.out_hidden);
}

// Patch p of the processor's order sits in merge unit p / merge^2 (units in
// row-major order over the frame's (h / merge) x (w / merge) grid), at row
// (p % merge^2) / merge and column p % merge inside it.
std::vector<int64_t> VisionTower::window_of(const PatchGrid& g, int64_t* groups) const {
  const int64_t m = s_.merge, unit = m * m, uw = g.w / m, uh = g.h / m;
  const int64_t ws = s_.window / m / s_.patch;  // window side in merge units
  // transformers pads each side up to the next multiple of ws (a whole extra
  // window when it divides evenly); empty windows hold nobody.
  const int64_t nwh = uh / ws + 1, nww = uw / ws + 1;
  std::vector<int64_t> group(static_cast<size_t>(g.patches()));
  for (int64_t p = 0; p < g.patches(); ++p) {
    const int64_t u = p / unit, frame = u / (uh * uw), in_frame = u % (uh * uw);
    const int64_t r = in_frame / uw, c = in_frame % uw;
    group[p] = (frame * nwh + r / ws) * nww + c / ws;
  }
  *groups = g.t * nwh * nww;
  return group;
}

// cos/sin [patch][head_dim]: the first head_dim/4 frequencies turn by the
// patch's row, the next head_dim/4 by its column; the second half of the
// head repeats the first (rotate-half layout).
void VisionTower::rotary(const PatchGrid& g, std::vector<float>& cos, std::vector<float>& sin) const {
  const int64_t d = s_.head_dim(), quarter = d / 4, half = d / 2, m = s_.merge, unit = m * m, uw = g.w / m;
  std::vector<float> inv(static_cast<size_t>(quarter));
  for (int64_t j = 0; j < quarter; ++j)
    inv[j] = 1.0f / std::pow(10000.0f, static_cast<float>(2 * j) / static_cast<float>(half));
  cos.resize(static_cast<size_t>(g.patches() * d));
  sin.resize(cos.size());
  for (int64_t p = 0; p < g.patches(); ++p) {
    const int64_t u = (p / unit) % ((g.h / m) * uw), in_unit = p % unit;
    const int64_t row = (u / uw) * m + in_unit / m, col = (u % uw) * m + in_unit % m;
    for (int64_t i = 0; i < half; ++i) {
      const float pos = static_cast<float>(i < quarter ? row : col);
      const float angle = pos * inv[i % quarter];
      cos[p * d + i] = cos[p * d + i + half] = std::cos(angle);
      sin[p * d + i] = sin[p * d + i + half] = std::sin(angle);
    }
  }
}

// qkv: [n][3][heads][head_dim] with rotary already applied to q and k;
// out: [n][heads][head_dim]. Each patch attends to every patch of its group.
void VisionTower::attention(const float* qkv, int64_t n, const std::vector<int64_t>& group, int64_t groups,
                            float* out) {
  const int64_t C = s_.hidden, H = s_.heads, d = s_.head_dim();
  std::vector<std::vector<int64_t>> members(static_cast<size_t>(groups));
  for (int64_t p = 0; p < n; ++p) members[group[p]].push_back(p);
  std::vector<std::pair<int64_t, int64_t>> tasks;  // (group, head), largest groups first
  for (int64_t gi = 0; gi < groups; ++gi)
    if (!members[gi].empty())
      for (int64_t h = 0; h < H; ++h) tasks.emplace_back(gi, h);
  std::stable_sort(tasks.begin(), tasks.end(),
                   [&](auto a, auto b) { return members[a.first].size() > members[b.first].size(); });
  const float scale = 1.0f / std::sqrt(static_cast<float>(d));
  pool_->parallel_for(static_cast<int64_t>(tasks.size()), 1, [&](int, int64_t begin, int64_t end) {
    // Per task the group's keys transposed ([d][m]) and values ([m][d]) side
    // by side, so both inner loops run over independent sums (vectorisable).
    std::vector<float> keys_t, values, scores, acc(static_cast<size_t>(d));
    for (int64_t task = begin; task < end; ++task) {
      const auto& ids = members[tasks[task].first];
      const int64_t h = tasks[task].second, m = static_cast<int64_t>(ids.size());
      keys_t.resize(static_cast<size_t>(d * m));
      values.resize(static_cast<size_t>(m * d));
      scores.resize(static_cast<size_t>(m));
      for (int64_t j = 0; j < m; ++j) {
        const float* k = qkv + ids[j] * 3 * C + C + h * d;
        for (int64_t c = 0; c < d; ++c) keys_t[c * m + j] = k[c];
        std::copy_n(qkv + ids[j] * 3 * C + 2 * C + h * d, d, values.data() + j * d);
      }
      for (int64_t i = 0; i < m; ++i) {
        const float* q = qkv + ids[i] * 3 * C + h * d;
        std::fill(scores.begin(), scores.end(), 0.0f);
        for (int64_t c = 0; c < d; ++c) {
          const float qc = q[c];
          const float* kt = keys_t.data() + c * m;
          for (int64_t j = 0; j < m; ++j) scores[j] += qc * kt[j];
        }
        float mx = -INFINITY;
        for (int64_t j = 0; j < m; ++j) mx = std::max(mx, scores[j] *= scale);
        float sum = 0;
        for (int64_t j = 0; j < m; ++j) sum += (scores[j] = std::exp(scores[j] - mx));
        std::fill(acc.begin(), acc.end(), 0.0f);
        for (int64_t j = 0; j < m; ++j) {
          const float w = scores[j] / sum;
          const float* v = values.data() + j * d;
          for (int64_t c = 0; c < d; ++c) acc[c] += w * v[c];
        }
        std::copy(acc.begin(), acc.end(), out + ids[i] * C + h * d);
      }
    }
  });
}

std::vector<float> VisionTower::forward(const float* pixels, const PatchGrid& g) {
  const int64_t m = s_.merge, unit = m * m;
  if (g.t <= 0 || g.h <= 0 || g.w <= 0 || g.h % m || g.w % m)
    throw InvalidArgumentError("Qwen2.5-VL vision tower: a patch grid of " + std::to_string(g.t) + "x" +
                               std::to_string(g.h) + "x" + std::to_string(g.w) + " is not whole " +
                               std::to_string(m) + "x" + std::to_string(m) + " merge units");
  const int64_t n = g.patches(), C = s_.hidden, I = s_.intermediate, H = s_.heads, d = s_.head_dim();
  std::vector<float> x(static_cast<size_t>(n * C)), h(x.size()), attn(x.size()), o(x.size());
  std::vector<float> qkv(static_cast<size_t>(n * 3 * C)), gate(static_cast<size_t>(n * I)), up(gate.size());
  be_->linear(patch_embed_, pixels, n, x.data());

  std::vector<float> cos, sin;
  rotary(g, cos, sin);
  int64_t window_groups = 0;
  const std::vector<int64_t> window = window_of(g, &window_groups);
  std::vector<int64_t> frame(static_cast<size_t>(n));
  for (int64_t p = 0; p < n; ++p) frame[p] = p / (g.h * g.w);

  for (int64_t b = 0; b < s_.depth; ++b) {
    const Block& blk = blocks_[b];
    be_->rms_norm(x.data(), blk.norm1.data(), n, C, s_.norm_eps, false, h.data());
    be_->linear(blk.qkv, h.data(), n, qkv.data(), blk.qkv_bias.data());
    // 2D rotary on q and k (rotate-half pairs (i, i + d/2)).
    for (int64_t p = 0; p < n; ++p)
      for (int64_t part = 0; part < 2; ++part)
        for (int64_t hd = 0; hd < H; ++hd) {
          float* v = qkv.data() + p * 3 * C + part * C + hd * d;
          const float* cs = cos.data() + p * d;
          const float* sn = sin.data() + p * d;
          for (int64_t i = 0; i < d / 2; ++i) {
            const float a = v[i], bb = v[i + d / 2];
            v[i] = a * cs[i] - bb * sn[i];
            v[i + d / 2] = bb * cs[i + d / 2] + a * sn[i + d / 2];
          }
        }
    const bool full = std::find(s_.full_attention_blocks.begin(), s_.full_attention_blocks.end(), b) !=
                      s_.full_attention_blocks.end();
    if (full)
      attention(qkv.data(), n, frame, g.t, attn.data());
    else
      attention(qkv.data(), n, window, window_groups, attn.data());
    be_->linear(blk.proj, attn.data(), n, o.data(), blk.proj_bias.data());
    be_->add(x.data(), o.data(), n * C);

    be_->rms_norm(x.data(), blk.norm2.data(), n, C, s_.norm_eps, false, h.data());
    const Backend::LinearJob gate_up[] = {{&blk.gate, gate.data(), blk.gate_bias.data()},
                                          {&blk.up, up.data(), blk.up_bias.data()}};
    be_->linear_group(gate_up, 2, h.data(), n);
    be_->gated_activation(gate.data(), up.data(), n * I, Activation::silu, gate.data());
    be_->linear(blk.down, gate.data(), n, o.data(), blk.down_bias.data());
    be_->add(x.data(), o.data(), n * C);
  }

  // Merger: each patch normed, each merge unit's patches side by side (they
  // are consecutive), Linear -> GELU (erf) -> Linear.
  const int64_t units = n / unit, M = C * unit;
  be_->rms_norm(x.data(), merger_norm_.data(), n, C, s_.norm_eps, false, h.data());
  std::vector<float> mid(static_cast<size_t>(units * M)), result(static_cast<size_t>(units * s_.out_hidden));
  be_->linear(merger0_, h.data(), units, mid.data(), merger_bias0_.data());
  for (float& v : mid) v = 0.5f * v * (1.0f + std::erf(v * static_cast<float>(M_SQRT1_2)));
  be_->linear(merger2_, mid.data(), units, result.data(), merger_bias2_.data());
  return result;
}

}  // namespace allm::qwen_vl
