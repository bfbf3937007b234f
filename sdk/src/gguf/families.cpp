// The registry of GgufFamily tables (gguf_family.hpp) the architecture
// plugins declare.
#include <algorithm>
#include <memory>
#include <mutex>

#include "allm/gguf_family.hpp"

namespace allm::gguf {
namespace {

struct Families {
  std::mutex mutex;
  std::deque<GgufFamily> list;  // deque: pointers handed out stay valid
};

Families& families() {
  static Families f;
  return f;
}

}  // namespace

void DerivedTensors::add(const std::string& name, std::vector<float> values, std::vector<int64_t> shape) {
  data.push_back(std::move(values));
  Tensor t;
  t.name = name;
  t.dtype = DType::F32;
  t.shape = std::move(shape);
  t.data = data.back().data();
  t.nbytes = data.back().size() * sizeof(float);
  tensors.push_back(std::move(t));
  named.emplace_back(name, &tensors.back());
}

void register_gguf_family(GgufFamily family) {
  auto& f = families();
  std::lock_guard lock(f.mutex);
  for (auto& existing : f.list)
    if (existing.model_type == family.model_type) {
      existing = std::move(family);
      return;
    }
  f.list.push_back(std::move(family));
}

const GgufFamily* gguf_family(const std::string& model_type) {
  auto& f = families();
  std::lock_guard lock(f.mutex);
  for (const auto& family : f.list)
    if (family.model_type == model_type) return &family;
  return nullptr;
}

const GgufFamily* gguf_family_reading(const File& file, const std::string& architecture) {
  auto& f = families();
  std::lock_guard lock(f.mutex);
  for (const auto& family : f.list)
    if (family.readable && family.architecture == architecture && (!family.claims || family.claims(file)))
      return &family;
  return nullptr;
}

std::string gguf_architecture_names() {
  auto& f = families();
  std::lock_guard lock(f.mutex);
  std::vector<std::string> names;
  for (const auto& family : f.list)
    if (family.readable && std::find(names.begin(), names.end(), family.architecture) == names.end())
      names.push_back(family.architecture);
  std::sort(names.begin(), names.end());
  std::string out;
  for (const auto& n : names) out += (out.empty() ? "" : ", ") + n;
  return out.empty() ? "none: no architecture plugin is loaded" : out;
}

}  // namespace allm::gguf
