#include "allm/checkpoint.hpp"
#include "allm/error.hpp"
#include "allm/weight_format.hpp"
#include "engine/decoder_capture.hpp"

namespace allm {

void MappedWeightStore::add(Tensor t) {
  uint64_t bytes = t.nbytes;
  if (t.dtype == DType::MLX_AFFINE && t.group_size > 0) {
    // scales and biases: one value each per group of every row
    const uint64_t groups = static_cast<uint64_t>(t.numel() / t.group_size);
    bytes += groups * dtype_size(t.scale_dtype) * (t.biases ? 2 : 1);
  }
  auto name = t.name;
  if (!tensors_.emplace(name, std::move(t)).second)
    throw ModelLoadError(source_ + ": tensor '" + name + "' appears twice");
  total_bytes_ += bytes;
}

const Tensor* MappedWeightStore::find(const std::string& name) const {
  auto it = tensors_.find(name);
  return it == tensors_.end() ? nullptr : &it->second;
}

const Tensor& MappedWeightStore::get(const std::string& name) const {
  if (const Tensor* t = find(name)) return *t;
  throw ModelLoadError(source_ + ": checkpoint has no tensor '" + name + "'");
}

std::vector<std::string> MappedWeightStore::names() const {
  std::vector<std::string> out;
  out.reserve(tensors_.size());
  for (const auto& [name, _] : tensors_) out.push_back(name);
  return out;
}

}  // namespace allm

namespace allm {

Tensor WeightStore::prepared(const Tensor& t) const {
  const WeightFormat* fmt = find_weight_format(t.dtype);
  if (!fmt || !fmt->repack || detail::decoder_capture()) return t;  // described only: keep the stored layout
  std::lock_guard lock(prepared_mutex_);
  const auto key = std::make_pair(t.data, t.shape);
  if (auto it = prepared_.find(key); it != prepared_.end()) {
    Tensor out = it->second.first;
    out.name = t.name;  // a tied matrix keeps the name it was asked for
    return out;
  }
  std::shared_ptr<void> storage;
  Tensor out;
  if (fmt->repack(t, storage, out))
    source_replaced(t);
  else
    out = t;
  prepared_.emplace(key, std::make_pair(out, std::move(storage)));
  return out;
}

}  // namespace allm
