#include "allm/siglip.hpp"

#include <algorithm>
#include <cmath>

#include "allm/arch_helpers.hpp"
#include "allm/error.hpp"
#include "allm/threadpool.hpp"
#include "kernels/kernel_table.hpp"

namespace allm {

namespace {

int64_t positive(const nlohmann::json& c, const char* key, const std::string& where, int64_t fallback = 0) {
  auto it = c.find(key);
  if (it == c.end() || it->is_null()) {
    if (fallback > 0) return fallback;
    throw ModelLoadError(where + ": vision_config." + key + " is missing");
  }
  if (!it->is_number_integer() || it->get<int64_t>() <= 0)
    throw ModelLoadError(where + ": vision_config." + key + " is " + it->dump() + ", not a positive integer");
  return it->get<int64_t>();
}

void gelu_tanh(float* x, int64_t n) {
  constexpr float kSqrt2OverPi = 0.7978845608028654f;
  for (int64_t i = 0; i < n; ++i) x[i] = 0.5f * x[i] * (1.0f + std::tanh(kSqrt2OverPi * (x[i] + 0.044715f * x[i] * x[i] * x[i])));
}


}  // namespace

struct SiglipVisionTower::Layer {
  std::vector<float> ln1_w, ln1_b, ln2_w, ln2_b;
  Tensor q, k, v, o, fc1, fc2;
  std::vector<float> q_b, k_b, v_b, o_b, fc1_b, fc2_b;
};

SiglipConfig siglip_config(const nlohmann::json& vc, const std::string& where) {
  if (!vc.is_object()) throw ModelLoadError(where + ": vision_config is not an object");
  SiglipConfig c;
  c.hidden = positive(vc, "hidden_size", where);
  c.intermediate = positive(vc, "intermediate_size", where);
  c.layers = positive(vc, "num_hidden_layers", where);
  c.heads = positive(vc, "num_attention_heads", where);
  c.channels = positive(vc, "num_channels", where, 3);
  c.image_size = positive(vc, "image_size", where);
  c.patch = positive(vc, "patch_size", where);
  c.eps = static_cast<float>(vc.value("layer_norm_eps", 1e-6));
  if (c.hidden % c.heads != 0)
    throw ModelLoadError(where + ": vision_config.hidden_size " + std::to_string(c.hidden) +
                         " is not a multiple of num_attention_heads " + std::to_string(c.heads));
  if (c.image_size % c.patch != 0)
    throw ModelLoadError(where + ": vision_config.image_size " + std::to_string(c.image_size) +
                         " is not a multiple of patch_size " + std::to_string(c.patch));
  const std::string act = vc.value("hidden_act", std::string("gelu_pytorch_tanh"));
  if (act != "gelu_pytorch_tanh" && act != "gelu_tanh")
    throw ModelLoadError(where + ": vision_config.hidden_act \"" + act + "\" is not supported (gelu_pytorch_tanh)");
  return c;
}

void layer_norm(const float* x, const float* w, const float* b, int64_t rows, int64_t dim, float eps, float* y) {
  for (int64_t r = 0; r < rows; ++r) {
    const float* in = x + r * dim;
    double mean = 0, var = 0;
    for (int64_t i = 0; i < dim; ++i) mean += in[i];
    mean /= static_cast<double>(dim);
    for (int64_t i = 0; i < dim; ++i) var += (in[i] - mean) * (in[i] - mean);
    var /= static_cast<double>(dim);
    const double inv = 1.0 / std::sqrt(var + eps);
    float* out = y + r * dim;
    for (int64_t i = 0; i < dim; ++i) out[i] = static_cast<float>((in[i] - mean) * inv) * w[i] + b[i];
  }
}

SiglipVisionTower::SiglipVisionTower(const Checkpoint& ckpt, const std::string& p, const SiglipConfig& c, int threads)
    : c_(c), be_(make_cpu_backend(threads)), pool_(std::make_unique<ThreadPool>(threads)) {
  const WeightBinder b(ckpt);
  const int64_t H = c.hidden, I = c.intermediate, P = c.patch, C = c.channels;
  // The patch embedding as a [hidden, C*p*p] matrix over each patch's pixels.
  const std::string pw = p + "embeddings.patch_embedding.weight";
  const Tensor& conv = ckpt.weights->get(pw);
  if (conv.dtype != DType::F32 && conv.dtype != DType::F16 && conv.dtype != DType::BF16)
    throw ModelLoadError(pw + ": stored as " + dtype_name(conv.dtype) + "; F32, F16 or BF16 expected");
  const std::vector<int64_t> torch_layout{H, C, P, P}, mlx_layout{H, P, P, C};
  if (conv.shape == mlx_layout && conv.shape != torch_layout) channels_last_ = true;
  else if (conv.shape != torch_layout)
    throw ModelLoadError(pw + ": shape [" + std::to_string(conv.shape.size()) + " dims] is not [" + std::to_string(H) +
                         ", " + std::to_string(C) + ", " + std::to_string(P) + ", " + std::to_string(P) + "]");
  patch_w_ = conv;
  patch_w_.shape = {H, C * P * P};
  patch_b_ = b.vector(p + "embeddings.patch_embedding.bias", H);
  positions_ = to_f32(b.matrix(p + "embeddings.position_embedding.weight", c.patches(), H));
  layers_.resize(static_cast<size_t>(c.layers));
  for (int64_t i = 0; i < c.layers; ++i) {
    const std::string l = p + "encoder.layers." + std::to_string(i) + ".";
    Layer& L = layers_[i];
    L.ln1_w = b.vector(l + "layer_norm1.weight", H);
    L.ln1_b = b.vector(l + "layer_norm1.bias", H);
    L.ln2_w = b.vector(l + "layer_norm2.weight", H);
    L.ln2_b = b.vector(l + "layer_norm2.bias", H);
    L.q = b.matrix(l + "self_attn.q_proj.weight", H, H);
    L.k = b.matrix(l + "self_attn.k_proj.weight", H, H);
    L.v = b.matrix(l + "self_attn.v_proj.weight", H, H);
    L.o = b.matrix(l + "self_attn.out_proj.weight", H, H);
    L.q_b = b.vector(l + "self_attn.q_proj.bias", H);
    L.k_b = b.vector(l + "self_attn.k_proj.bias", H);
    L.v_b = b.vector(l + "self_attn.v_proj.bias", H);
    L.o_b = b.vector(l + "self_attn.out_proj.bias", H);
    L.fc1 = b.matrix(l + "mlp.fc1.weight", I, H);
    L.fc1_b = b.vector(l + "mlp.fc1.bias", I);
    L.fc2 = b.matrix(l + "mlp.fc2.weight", H, I);
    L.fc2_b = b.vector(l + "mlp.fc2.bias", H);
  }
  post_w_ = b.vector(p + "post_layernorm.weight", H);
  post_b_ = b.vector(p + "post_layernorm.bias", H);
}

SiglipVisionTower::~SiglipVisionTower() = default;

// Full attention of every patch over every patch, one head at a time, each
// query row on its own (rows spread over the threads): scores as axpys of
// the transposed keys (long, contiguous rows), softmax, then each output value
// as a dot product with a transposed value row. No [patches x patches]
// matrix is stored.
void SiglipVisionTower::attention(const Layer& l, const float* x, float* out) {
  const int64_t N = c_.patches(), H = c_.hidden, D = H / c_.heads;
  std::vector<float> q(N * H), k(N * H), v(N * H);
  const Backend::LinearJob jobs[] = {{&l.q, q.data(), l.q_b.data()}, {&l.k, k.data(), l.k_b.data()},
                                     {&l.v, v.data(), l.v_b.data()}};
  be_->linear_group(jobs, 3, x, N);
  std::vector<float> kt(D * N), vt(D * N), heads(N * H);
  rows_.resize(static_cast<size_t>(pool_->size()) * N);
  const float scale = 1.0f / std::sqrt(static_cast<float>(D));
  const auto& kern = kernels::active();
  for (int64_t h = 0; h < c_.heads; ++h) {
    for (int64_t t = 0; t < N; ++t)
      for (int64_t d = 0; d < D; ++d) {
        kt[d * N + t] = k[t * H + h * D + d];
        vt[d * N + t] = v[t * H + h * D + d];
      }
    pool_->parallel_for(N, 8, [&](int thread, int64_t begin, int64_t end) {
      float* row = rows_.data() + static_cast<size_t>(thread) * N;
      for (int64_t i = begin; i < end; ++i) {
        std::fill(row, row + N, 0.0f);
        const float* qi = q.data() + i * H + h * D;
        for (int64_t d = 0; d < D; ++d) kern.axpy(qi[d] * scale, kt.data() + d * N, row, N);
        const float mx = *std::max_element(row, row + N);
        float sum = 0;
        for (int64_t j = 0; j < N; ++j) sum += (row[j] = std::exp(row[j] - mx));
        const float inv = 1.0f / sum;
        float* o = heads.data() + i * H + h * D;
        for (int64_t d = 0; d < D; ++d) o[d] = kern.dot_f32(vt.data() + d * N, row, N) * inv;
      }
    });
  }
  be_->linear(l.o, heads.data(), N, out, l.o_b.data());
}

std::vector<float> SiglipVisionTower::forward(const PixelValues& px) {
  const int64_t S = c_.image_size, P = c_.patch, C = c_.channels, side = c_.patches_per_side(), N = c_.patches();
  const int64_t H = c_.hidden, I = c_.intermediate;
  if (px.channels != C || px.height != S || px.width != S || static_cast<int64_t>(px.data.size()) != C * S * S)
    throw InvalidArgumentError("vision encoder: pixel values are " + std::to_string(px.channels) + "x" +
                               std::to_string(px.height) + "x" + std::to_string(px.width) + ", expected " +
                               std::to_string(C) + "x" + std::to_string(S) + "x" + std::to_string(S));
  // Each patch's pixels in the order of the patch embedding's inputs.
  std::vector<float> patches(N * C * P * P);
  for (int64_t py = 0; py < side; ++py)
    for (int64_t px_ = 0; px_ < side; ++px_) {
      float* dst = patches.data() + (py * side + px_) * C * P * P;
      for (int64_t ch = 0; ch < C; ++ch)
        for (int64_t ky = 0; ky < P; ++ky)
          for (int64_t kx = 0; kx < P; ++kx) {
            const float value = px.data[(ch * S + py * P + ky) * S + px_ * P + kx];
            const int64_t at = channels_last_ ? (ky * P + kx) * C + ch : (ch * P + ky) * P + kx;
            dst[at] = value;
          }
    }
  std::vector<float> x(N * H), h(N * H), out(N * H), f(N * I);
  be_->linear(patch_w_, patches.data(), N, x.data(), patch_b_.data());
  be_->add(x.data(), positions_.data(), N * H);
  for (const Layer& l : layers_) {
    layer_norm(x.data(), l.ln1_w.data(), l.ln1_b.data(), N, H, c_.eps, h.data());
    attention(l, h.data(), out.data());
    be_->add(x.data(), out.data(), N * H);
    layer_norm(x.data(), l.ln2_w.data(), l.ln2_b.data(), N, H, c_.eps, h.data());
    be_->linear(l.fc1, h.data(), N, f.data(), l.fc1_b.data());
    gelu_tanh(f.data(), N * I);
    be_->linear(l.fc2, f.data(), N, out.data(), l.fc2_b.data());
    be_->add(x.data(), out.data(), N * H);
  }
  layer_norm(x.data(), post_w_.data(), post_b_.data(), N, H, c_.eps, h.data());
  return h;
}

}  // namespace allm
