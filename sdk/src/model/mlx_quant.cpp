#include "mlx_quant.hpp"

#include <vector>

#include "allm/error.hpp"

namespace allm::detail {

namespace {

using json = nlohmann::json;

constexpr int kSupportedBits[] = {2, 3, 4, 5, 6, 8};
constexpr int kSupportedGroupSizes[] = {32, 64, 128};

bool contains(const int* b, const int* e, int v) {
  for (; b != e; ++b)
    if (*b == v) return true;
  return false;
}

std::string shape_string(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

void check_mode(const json& q, const std::string& place) {
  auto m = q.find("mode");
  if (m == q.end() || m->is_null()) return;
  if (!m->is_string() || m->get<std::string>() != "affine")
    throw UnsupportedError(place + ": quantization mode " + m->dump() + " is not supported (supported: \"affine\")");
}

QuantParams read_params(const json& q, const QuantParams& fallback, const std::string& place) {
  QuantParams p = fallback;
  if (auto b = q.find("bits"); b != q.end()) {
    if (!b->is_number_integer()) throw ModelLoadError(place + ": \"bits\" is " + b->dump() + ", not an integer");
    p.bits = b->get<int>();
  }
  if (auto g = q.find("group_size"); g != q.end()) {
    if (!g->is_number_integer()) throw ModelLoadError(place + ": \"group_size\" is " + g->dump() + ", not an integer");
    p.group_size = g->get<int>();
  }
  if (!contains(std::begin(kSupportedBits), std::end(kSupportedBits), p.bits))
    throw UnsupportedError(place + ": " + std::to_string(p.bits) + "-bit quantization is not supported (supported: 2, 3, 4, 5, 6, 8)");
  if (!contains(std::begin(kSupportedGroupSizes), std::end(kSupportedGroupSizes), p.group_size))
    throw UnsupportedError(place + ": quantization group_size " + std::to_string(p.group_size) +
                           " is not supported (supported: 32, 64, 128)");
  return p;
}

// The shapes of one stored triple admit which (bits, group_size)?
std::string fitting_params(int64_t packed, int64_t groups) {
  std::string out;
  for (int b : kSupportedBits)
    for (int g : kSupportedGroupSizes)
      if ((packed * 32) % b == 0 && groups * g == packed * 32 / b)
        out += (out.empty() ? "" : ", ") + std::string("bits=") + std::to_string(b) + "/group_size=" + std::to_string(g);
  return out.empty() ? "none" : out;
}

bool same_leading_dims(const std::vector<int64_t>& a, const std::vector<int64_t>& b) {
  if (a.size() != b.size() || a.empty()) return false;
  for (size_t i = 0; i + 1 < a.size(); ++i)
    if (a[i] != b[i]) return false;
  return true;
}

}  // namespace

MlxQuantConfig parse_mlx_quantization(const json& config, const std::string& where) {
  MlxQuantConfig out;
  const json* q = nullptr;
  for (const char* key : {"quantization", "quantization_config"}) {
    auto it = config.find(key);
    if (it == config.end() || it->is_null()) continue;
    if (!it->is_object()) throw ModelLoadError(where + ": \"" + key + "\" is not an object");
    if (auto method = it->find("quant_method"); method != it->end())
      throw UnsupportedError(where + ": \"" + key + "\" uses quant_method " + method->dump() +
                             ", which is not supported (supported: MLX affine quantization, GGUF)");
    q = &*it;
    out.config_key = key;
    break;
  }
  if (!q) return out;
  const std::string place = where + ": \"" + out.config_key + "\"";
  check_mode(*q, place);
  out.enabled = true;
  out.mode = "affine";
  out.defaults = read_params(*q, QuantParams{}, place);
  for (auto it = q->begin(); it != q->end(); ++it) {
    const std::string& key = it.key();
    if (key == "bits" || key == "group_size" || key == "mode") continue;
    const std::string sub = place + "[\"" + key + "\"]";
    if (it->is_boolean()) {
      // false: the module stays in float; true: the defaults apply.
      if (!it->get<bool>()) out.overrides[key] = std::nullopt;
    } else if (it->is_object()) {
      check_mode(*it, sub);
      out.overrides[key] = read_params(*it, out.defaults, sub);
    }
  }
  return out;
}

void merge_mlx_quantized(std::map<std::string, RawTensor>& tensors, const MlxQuantConfig& quant,
                         const std::string& config_file) {
  static const std::string kScales = ".scales";
  std::vector<std::string> prefixes;
  for (const auto& [name, raw] : tensors)
    if (name.ends_with(kScales)) prefixes.push_back(name.substr(0, name.size() - kScales.size()));

  for (const auto& p : prefixes) {
    RawTensor& scales = tensors.at(p + ".scales");
    const std::string place = scales.file + ": tensor '" + p + ".scales'";
    if (!quant.enabled)
      throw ModelLoadError(place + ": MLX scales found but " + config_file + " has no \"quantization\" section");
    auto ov = quant.overrides.find(p);
    if (ov != quant.overrides.end() && !ov->second)
      throw ModelLoadError(place + ": " + config_file + " marks module '" + p + "' as not quantized (false)");
    const QuantParams params = ov != quant.overrides.end() ? *ov->second : quant.defaults;

    auto w_it = tensors.find(p + ".weight");
    if (w_it == tensors.end()) throw ModelLoadError(place + ": no matching '" + p + ".weight' (packed codes)");
    auto b_it = tensors.find(p + ".biases");
    if (b_it == tensors.end()) throw ModelLoadError(place + ": affine quantization needs '" + p + ".biases', which is missing");
    const Tensor& w = w_it->second.tensor;
    const Tensor& s = scales.tensor;
    const Tensor& b = b_it->second.tensor;
    const std::string wplace = w_it->second.file + ": tensor '" + p + ".weight'";
    if (w.dtype != DType::U32)
      throw ModelLoadError(wplace + ": is " + dtype_name(w.dtype) + ", quantized codes must be U32");
    if (s.dtype != DType::BF16 && s.dtype != DType::F16 && s.dtype != DType::F32)
      throw ModelLoadError(place + ": is " + dtype_name(s.dtype) + ", scales must be BF16, F16 or F32");
    if (b.dtype != s.dtype || b.shape != s.shape)
      throw ModelLoadError(b_it->second.file + ": tensor '" + p + ".biases': " + dtype_name(b.dtype) + " " +
                           shape_string(b.shape) + " does not match the scales' " + dtype_name(s.dtype) + " " +
                           shape_string(s.shape));
    if (!same_leading_dims(w.shape, s.shape))
      throw ModelLoadError(wplace + ": codes " + shape_string(w.shape) + " and scales " + shape_string(s.shape) +
                           " disagree on their leading dimensions");
    const int64_t packed = w.shape.back();
    const int64_t groups = s.shape.back();
    const bool fits = (packed * 32) % params.bits == 0 && groups * params.group_size == packed * 32 / params.bits;
    if (!fits)
      throw ModelLoadError(wplace + ": codes " + shape_string(w.shape) + " with scales " + shape_string(s.shape) +
                           " do not match bits=" + std::to_string(params.bits) + " group_size=" +
                           std::to_string(params.group_size) + " from " + config_file +
                           " (these shapes fit: " + fitting_params(packed, groups) + ")");

    Tensor q;
    q.name = p + ".weight";
    q.dtype = DType::MLX_AFFINE;
    q.shape = w.shape;
    q.shape.back() = packed * 32 / params.bits;
    q.data = w.data;
    q.nbytes = w.nbytes;
    q.scales = s.data;
    q.biases = b.data;
    q.scale_dtype = s.dtype;
    q.bits = params.bits;
    q.group_size = params.group_size;
    std::string file = w_it->second.file;
    tensors.erase(p + ".scales");
    tensors.erase(p + ".biases");
    tensors[p + ".weight"] = RawTensor{std::move(q), std::move(file)};
  }

  if (!quant.enabled) return;
  for (const auto& [name, raw] : tensors) {
    if (raw.tensor.dtype != DType::U32 || !name.ends_with(".weight")) continue;
    const std::string p = name.substr(0, name.size() - 7);
    throw ModelLoadError(raw.file + ": tensor '" + name + "' holds U32 packed codes but '" + p +
                         ".scales' is missing");
  }
}

}  // namespace allm::detail
