// The registry of weight formats and the row-slicing arithmetic shared by all.
#include <array>
#include <mutex>

#include "allm/error.hpp"
#include "allm/weight_format.hpp"

namespace allm {
namespace {

constexpr size_t kMaxDTypes = 64;

struct FormatTable {
  std::mutex mutex;
  std::array<WeightFormat, kMaxDTypes> formats{};
  std::array<bool, kMaxDTypes> present{};
};

FormatTable& table() {
  static FormatTable t;
  return t;
}

size_t scale_bytes(DType t) { return t == DType::F32 ? 4 : 2; }

}  // namespace

void register_weight_format(const WeightFormat& f) {
  auto& t = table();
  std::lock_guard lock(t.mutex);
  t.formats.at(static_cast<size_t>(f.dtype)) = f;
  t.present.at(static_cast<size_t>(f.dtype)) = true;
}

const WeightFormat* find_weight_format(DType dtype) {
  auto& t = table();
  const size_t i = static_cast<size_t>(dtype);
  std::lock_guard lock(t.mutex);
  return i < kMaxDTypes && t.present[i] ? &t.formats[i] : nullptr;
}

const WeightFormat& weight_format_of(const Tensor& w) {
  if (auto* f = find_weight_format(w.dtype)) return *f;
  throw UnsupportedError("tensor '" + w.name + "': no kernel for weight dtype " + dtype_name(w.dtype));
}

uint64_t row_bytes(const Tensor& w) {
  const uint64_t cols = static_cast<uint64_t>(w.cols());
  if (w.dtype == DType::MLX_AFFINE) return cols * static_cast<uint64_t>(w.bits) / 8;
  if (size_t s = dtype_size(w.dtype)) return cols * s;
  return cols / dtype_block_elems(w.dtype) * dtype_block_bytes(w.dtype);
}

Tensor slice_rows(const Tensor& w, int64_t r0, int64_t n) {
  if (w.shape.size() != 2 || r0 < 0 || n < 0 || r0 + n > w.shape[0])
    throw ModelLoadError("tensor '" + w.name + "': cannot take rows [" + std::to_string(r0) + ", " +
                         std::to_string(r0 + n) + ")");
  const bool interleaved = w.dtype == DType::Q4_0_X16 || w.dtype == DType::Q4_K_X16 || w.dtype == DType::Q6_K_X16 ||
                           w.dtype == DType::Q8_0_X16;
  if (interleaved && (r0 % 16 != 0 || n % 16 != 0))
    throw ModelLoadError("tensor '" + w.name + "': rows [" + std::to_string(r0) + ", " + std::to_string(r0 + n) +
                         ") split a 16-row panel of " + dtype_name(w.dtype));
  Tensor v = w;
  v.shape[0] = n;
  v.data = static_cast<const uint8_t*>(w.data) + static_cast<uint64_t>(r0) * row_bytes(w);
  v.nbytes = static_cast<size_t>(static_cast<uint64_t>(n) * row_bytes(w));
  if (w.dtype == DType::MLX_AFFINE) {
    const uint64_t per_row = static_cast<uint64_t>(w.cols() / w.group_size) * scale_bytes(w.scale_dtype);
    v.scales = static_cast<const uint8_t*>(w.scales) + static_cast<uint64_t>(r0) * per_row;
    v.biases = static_cast<const uint8_t*>(w.biases) + static_cast<uint64_t>(r0) * per_row;
  }
  return v;
}

}  // namespace allm
