#include "image_processor.hpp"

#include <cmath>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "allm/error.hpp"
#include "allm/json_depth.hpp"
#include "allm/vision.hpp"

namespace allm::qwen_vl {

namespace {

using json = nlohmann::json;

int64_t positive(const json& js, const char* key, int64_t fallback, const std::string& where) {
  auto it = js.find(key);
  if (it == js.end() || it->is_null()) return fallback;
  if (!it->is_number_integer() || it->get<int64_t>() <= 0)
    throw ModelLoadError(where + ": key '" + key + "' must be a positive integer, not " + it->dump());
  return it->get<int64_t>();
}

bool flag(const json& js, const char* key, bool fallback, const std::string& where) {
  auto it = js.find(key);
  if (it == js.end() || it->is_null()) return fallback;
  if (!it->is_boolean()) throw ModelLoadError(where + ": key '" + key + "' must be true or false, not " + it->dump());
  return it->get<bool>();
}

std::vector<double> triple(const json& js, const char* key, std::vector<double> fallback, const std::string& where) {
  auto it = js.find(key);
  if (it == js.end() || it->is_null()) return fallback;
  if (it->is_number()) return std::vector<double>(3, it->get<double>());
  if (!it->is_array() || it->size() != 3)
    throw ModelLoadError(where + ": key '" + std::string(key) + "' must be a number or a list of 3, not " + it->dump());
  std::vector<double> out;
  for (const auto& v : *it) {
    if (!v.is_number()) throw ModelLoadError(where + ": key '" + std::string(key) + "' holds " + v.dump());
    out.push_back(v.get<double>());
  }
  return out;
}

// Python's round(): halves to even (the default rounding mode of nearbyint).
int64_t round_half_even(double v) { return static_cast<int64_t>(std::nearbyint(v)); }

}  // namespace

ImageProcessorConfig ImageProcessorConfig::load(const std::filesystem::path& dir) {
  ImageProcessorConfig c;
  const auto file = dir / "preprocessor_config.json";
  std::ifstream in(file, std::ios::binary);
  if (!in) return c;
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string where = file.string();
  if (std::string depth = json_depth_error(ss.str()); !depth.empty()) throw ModelLoadError(where + ": " + depth);
  json js;
  try {
    js = json::parse(ss.str());
  } catch (const json::exception& e) {
    throw ModelLoadError(where + ": malformed JSON: " + e.what());
  }
  if (!js.is_object()) throw ModelLoadError(where + ": top level is not an object");
  // transformers 5: size {shortest_edge, longest_edge} (pixel counts), then
  // min_pixels / max_pixels override them (what hub checkpoints carry).
  if (auto size = js.find("size"); size != js.end() && size->is_object()) {
    c.min_pixels = positive(*size, "shortest_edge", c.min_pixels, where + " (size)");
    c.max_pixels = positive(*size, "longest_edge", c.max_pixels, where + " (size)");
  }
  c.min_pixels = positive(js, "min_pixels", c.min_pixels, where);
  c.max_pixels = positive(js, "max_pixels", c.max_pixels, where);
  if (c.min_pixels > c.max_pixels) throw ModelLoadError(where + ": min_pixels is larger than max_pixels");
  c.patch = positive(js, "patch_size", c.patch, where);
  c.temporal_patch = positive(js, "temporal_patch_size", c.temporal_patch, where);
  c.merge = positive(js, "merge_size", c.merge, where);
  c.do_resize = flag(js, "do_resize", c.do_resize, where);
  c.do_rescale = flag(js, "do_rescale", c.do_rescale, where);
  c.do_normalize = flag(js, "do_normalize", c.do_normalize, where);
  if (auto rf = js.find("rescale_factor"); rf != js.end() && !rf->is_null()) {
    if (!rf->is_number() || rf->get<double>() <= 0)
      throw ModelLoadError(where + ": key 'rescale_factor' must be a positive number, not " + rf->dump());
    c.rescale_factor = rf->get<double>();
  }
  c.mean = triple(js, "image_mean", c.mean, where);
  c.std = triple(js, "image_std", c.std, where);
  for (double s : c.std)
    if (s == 0) throw ModelLoadError(where + ": key 'image_std' holds a zero");
  if (auto rs = js.find("resample"); rs != js.end() && !rs->is_null()) {
    if (!rs->is_number_integer()) throw ModelLoadError(where + ": key 'resample' must be an integer, not " + rs->dump());
    c.resample = resample_filter_from_pil(rs->get<int>(), where + ": key 'resample'");
  }
  return c;
}

std::pair<int64_t, int64_t> smart_resize(int64_t height, int64_t width, const ImageProcessorConfig& c) {
  const int64_t factor = c.patch * c.merge;
  const std::string size = std::to_string(width) + "x" + std::to_string(height);
  if (height < factor || width < factor)
    throw MediaError("image " + size + " is too small: Qwen2.5-VL needs at least " + std::to_string(factor) +
                     " pixels on each side");
  if (static_cast<double>(std::max(height, width)) / static_cast<double>(std::min(height, width)) > 200)
    throw MediaError("image " + size + " is too elongated: the aspect ratio must stay below 200");
  int64_t h = round_half_even(static_cast<double>(height) / factor) * factor;
  int64_t w = round_half_even(static_cast<double>(width) / factor) * factor;
  const double area = static_cast<double>(height) * static_cast<double>(width);
  if (h * w > c.max_pixels) {
    const double beta = std::sqrt(area / static_cast<double>(c.max_pixels));
    h = std::max<int64_t>(factor, static_cast<int64_t>(std::floor(static_cast<double>(height) / beta / factor)) * factor);
    w = std::max<int64_t>(factor, static_cast<int64_t>(std::floor(static_cast<double>(width) / beta / factor)) * factor);
  } else if (h * w < c.min_pixels) {
    const double beta = std::sqrt(static_cast<double>(c.min_pixels) / area);
    h = static_cast<int64_t>(std::ceil(static_cast<double>(height) * beta / factor)) * factor;
    w = static_cast<int64_t>(std::ceil(static_cast<double>(width) * beta / factor)) * factor;
  }
  return {h, w};
}

Patches preprocess_image(const ImageData& image, const ImageProcessorConfig& c) {
  ImageData rgb = image_to_rgb(image);
  int64_t H = rgb.height, W = rgb.width;
  if (c.do_resize) {
    const auto [h, w] = smart_resize(H, W, c);
    if (h != H || w != W) rgb = resize_image(rgb, static_cast<int>(w), static_cast<int>(h), c.resample);
    H = h;
    W = w;
  }
  const int64_t factor = c.patch * c.merge;
  if (H % factor || W % factor)
    throw MediaError("image " + std::to_string(W) + "x" + std::to_string(H) + " is not a multiple of " +
                     std::to_string(factor) + " pixels (preprocessor_config.json has do_resize false)");
  // Rescale and normalise fused, in F32, as the torchvision backend does:
  // (x - mean / rescale) / (std / rescale).
  float shift[3], divide[3];
  for (int ch = 0; ch < 3; ++ch) {
    const double r = c.do_rescale ? c.rescale_factor : 1.0;
    shift[ch] = c.do_normalize ? static_cast<float>(c.mean[ch] / r) : 0.0f;
    divide[ch] = c.do_normalize ? static_cast<float>(c.std[ch] / r) : static_cast<float>(1.0 / r);
  }
  Patches out;
  out.h = H / c.patch;
  out.w = W / c.patch;
  const int64_t p = c.patch, m = c.merge, tp = c.temporal_patch, per_patch = 3 * tp * p * p;
  out.values.resize(static_cast<size_t>(out.h * out.w * per_patch));
  int64_t index = 0;
  for (int64_t uh = 0; uh < out.h / m; ++uh)
    for (int64_t uw = 0; uw < out.w / m; ++uw)
      for (int64_t r = 0; r < m; ++r)
        for (int64_t col = 0; col < m; ++col, ++index) {
          float* dst = out.values.data() + index * per_patch;
          const int64_t y0 = (uh * m + r) * p, x0 = (uw * m + col) * p;
          for (int64_t ch = 0; ch < 3; ++ch)
            for (int64_t t = 0; t < tp; ++t)  // a still image: the same frame at every time step
              for (int64_t py = 0; py < p; ++py)
                for (int64_t px = 0; px < p; ++px) {
                  const uint8_t v = rgb.pixels[static_cast<size_t>(((y0 + py) * W + x0 + px) * 3 + ch)];
                  *dst++ = (static_cast<float>(v) - shift[ch]) / divide[ch];
                }
        }
  return out;
}

}  // namespace allm::qwen_vl
