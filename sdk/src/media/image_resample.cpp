// torch's antialiased uint8 interpolation (aten/src/ATen/native/cpu/UpSampleKernel.cpp
// and its AVX2 uint8 path), which transformers' torchvision image processors run.
#include "allm/image_resample.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "allm/error.hpp"

namespace allm {

namespace {

double bilinear(double x) {
  x = std::fabs(x);
  return x < 1.0 ? 1.0 - x : 0.0;
}

// Keys' cubic convolution with a = -0.5 (PIL's and torch's uint8 choice).
double bicubic(double x) {
  constexpr double a = -0.5;
  x = std::fabs(x);
  if (x < 1.0) return ((a + 2) * x - (a + 3)) * x * x + 1;
  if (x < 2.0) return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a;
  return 0.0;
}

// One axis: for each output index, the first input index, the count and the
// int16 weights (stride `taps`), plus the fixed-point precision.
struct AxisWeights {
  std::vector<int64_t> first, count;
  std::vector<int32_t> weights;
  int64_t taps = 0;
  int precision = 0;
};

AxisWeights axis_weights(int64_t in, int64_t out, ResampleFilter filter) {
  const double interp = filter == ResampleFilter::bilinear ? 2.0 : 4.0;
  double (*f)(double) = filter == ResampleFilter::bilinear ? bilinear : bicubic;
  const double scale = static_cast<double>(in) / static_cast<double>(out);
  const double support = scale >= 1.0 ? interp * 0.5 * scale : interp * 0.5;
  const double invscale = scale >= 1.0 ? 1.0 / scale : 1.0;
  AxisWeights a;
  a.taps = static_cast<int64_t>(std::ceil(support)) * 2 + 1;
  a.first.resize(out);
  a.count.resize(out);
  std::vector<double> w(static_cast<size_t>(out * a.taps), 0.0);
  double wt_max = 0.0;
  for (int64_t i = 0; i < out; ++i) {
    const double center = scale * (static_cast<double>(i) + 0.5);
    const int64_t xmin = std::max<int64_t>(static_cast<int64_t>(center - support + 0.5), 0);
    const int64_t xsize = std::clamp<int64_t>(std::min<int64_t>(static_cast<int64_t>(center + support + 0.5), in) - xmin,
                                              0, a.taps);
    double total = 0.0;
    double* row = w.data() + i * a.taps;
    for (int64_t j = 0; j < xsize; ++j) total += (row[j] = f((static_cast<double>(j + xmin) - center + 0.5) * invscale));
    if (total != 0.0)
      for (int64_t j = 0; j < xsize; ++j) wt_max = std::max(wt_max, row[j] /= total);
    a.first[i] = xmin;
    a.count[i] = xsize;
  }
  for (a.precision = 0; a.precision < 22; ++a.precision)
    if (static_cast<int>(0.5 + wt_max * static_cast<double>(1 << (a.precision + 1))) >= (1 << 15)) break;
  a.weights.resize(w.size());
  for (size_t k = 0; k < w.size(); ++k) {
    const double v = w[k] * static_cast<double>(1 << a.precision);
    a.weights[k] = v < 0 ? static_cast<int32_t>(-0.5 + v) : static_cast<int32_t>(0.5 + v);
  }
  return a;
}

uint8_t fixed_to_u8(int64_t sum, int precision) {
  const int64_t v = precision > 0 ? (sum + (int64_t{1} << (precision - 1))) >> precision : sum;
  return static_cast<uint8_t>(std::clamp<int64_t>(v, 0, 255));
}

}  // namespace

ImageData resize_image(const ImageData& img, int width, int height, ResampleFilter filter) {
  const int64_t C = img.channels;
  if (C < 1 || C > 4 || img.width <= 0 || img.height <= 0 ||
      img.pixels.size() != static_cast<size_t>(img.width) * img.height * C)
    throw MediaError("image: " + std::to_string(img.width) + "x" + std::to_string(img.height) + " pixels with " +
                     std::to_string(C) + " channels and " + std::to_string(img.pixels.size()) +
                     " bytes is not a valid 8-bit image");
  if (width <= 0 || height <= 0)
    throw MediaError("image: cannot resize to " + std::to_string(width) + "x" + std::to_string(height));
  ImageData cur = img;
  if (width != img.width) {  // horizontal pass
    const AxisWeights a = axis_weights(img.width, width, filter);
    ImageData next{std::vector<uint8_t>(static_cast<size_t>(width) * cur.height * C), width, cur.height, cur.channels};
    for (int64_t y = 0; y < cur.height; ++y)
      for (int64_t x = 0; x < width; ++x)
        for (int64_t c = 0; c < C; ++c) {
          int64_t sum = 0;
          for (int64_t j = 0; j < a.count[x]; ++j)
            sum += static_cast<int64_t>(cur.pixels[(y * cur.width + a.first[x] + j) * C + c]) * a.weights[x * a.taps + j];
          next.pixels[(y * width + x) * C + c] = fixed_to_u8(sum, a.precision);
        }
    cur = std::move(next);
  }
  if (height != img.height) {  // vertical pass
    const AxisWeights a = axis_weights(img.height, height, filter);
    ImageData next{std::vector<uint8_t>(static_cast<size_t>(cur.width) * height * C), cur.width, height, cur.channels};
    for (int64_t y = 0; y < height; ++y)
      for (int64_t x = 0; x < cur.width; ++x)
        for (int64_t c = 0; c < C; ++c) {
          int64_t sum = 0;
          for (int64_t j = 0; j < a.count[y]; ++j)
            sum += static_cast<int64_t>(cur.pixels[((a.first[y] + j) * cur.width + x) * C + c]) * a.weights[y * a.taps + j];
          next.pixels[(y * cur.width + x) * C + c] = fixed_to_u8(sum, a.precision);
        }
    cur = std::move(next);
  }
  return cur;
}

ResampleFilter resample_filter_from_pil(int code, const std::string& where) {
  if (code == 2) return ResampleFilter::bilinear;
  if (code == 3) return ResampleFilter::bicubic;
  throw ModelLoadError(where + ": resample " + std::to_string(code) +
                       " is not supported (2 = bilinear and 3 = bicubic are)");
}

}  // namespace allm
