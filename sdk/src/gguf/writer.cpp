// GGUF v3 writer: metadata in insertion order, tensor table, aligned data.
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>

#include "allm/error.hpp"
#include "allm/gguf.hpp"
#include "gguf/types.hpp"

namespace allm::gguf {
namespace {

class Out {
 public:
  explicit Out(std::vector<uint8_t>& buf) : buf_(buf) {}
  template <class T>
  void put(T v) {
    size_t at = buf_.size();
    buf_.resize(at + sizeof(T));
    std::memcpy(buf_.data() + at, &v, sizeof(T));
  }
  void str(const std::string& s) {
    put<uint64_t>(s.size());
    size_t at = buf_.size();
    buf_.resize(at + s.size());
    if (!s.empty()) std::memcpy(buf_.data() + at, s.data(), s.size());
  }

 private:
  std::vector<uint8_t>& buf_;
};

ValueType infer_type(const nlohmann::json& j) {
  if (j.is_boolean()) return ValueType::BOOL;
  if (j.is_string()) return ValueType::STRING;
  if (j.is_array()) return ValueType::ARRAY;
  if (j.is_number_float()) return ValueType::F32;
  if (j.is_number_unsigned()) return ValueType::U32;
  return ValueType::I32;
}

void put_value(Out& o, ValueType t, ValueType elem, const nlohmann::json& v, const std::string& key) {
  switch (t) {
    case ValueType::U8: return o.put<uint8_t>(v.get<uint8_t>());
    case ValueType::I8: return o.put<int8_t>(v.get<int8_t>());
    case ValueType::U16: return o.put<uint16_t>(v.get<uint16_t>());
    case ValueType::I16: return o.put<int16_t>(v.get<int16_t>());
    case ValueType::U32: return o.put<uint32_t>(v.get<uint32_t>());
    case ValueType::I32: return o.put<int32_t>(v.get<int32_t>());
    case ValueType::F32: return o.put<float>(v.get<float>());
    case ValueType::U64: return o.put<uint64_t>(v.get<uint64_t>());
    case ValueType::I64: return o.put<int64_t>(v.get<int64_t>());
    case ValueType::F64: return o.put<double>(v.get<double>());
    case ValueType::BOOL: return o.put<uint8_t>(v.get<bool>() ? 1 : 0);
    case ValueType::STRING: return o.str(v.get<std::string>());
    case ValueType::ARRAY: {
      if (!v.is_array()) throw InvalidArgumentError("GGUF metadata '" + key + "': ARRAY value is not a JSON array");
      o.put<uint32_t>(uint32_t(elem));
      o.put<uint64_t>(v.size());
      for (auto& item : v) {
        ValueType inner = elem == ValueType::ARRAY && !item.empty() ? infer_type(item[0]) : ValueType::U32;
        put_value(o, elem, inner, item, key);
      }
      return;
    }
  }
}

}  // namespace

void Writer::set(const std::string& key, Value v) {
  for (auto& [k, old] : metadata_)
    if (k == key) {
      old = std::move(v);
      return;
    }
  metadata_.emplace_back(key, std::move(v));
}

void Writer::add_tensor(const std::string& name, DType dtype, std::vector<int64_t> shape, std::vector<uint8_t> data) {
  auto bytes = std::make_shared<std::vector<uint8_t>>(std::move(data));
  size_t n = bytes->size();
  add_tensor(name, dtype, std::move(shape), [bytes] { return std::move(*bytes); });
  if (tensors_.back().nbytes != n)
    throw InvalidArgumentError("GGUF writer: tensor '" + name + "' has " + std::to_string(n) + " bytes, expected " +
                               std::to_string(tensors_.back().nbytes));
}

void Writer::add_tensor(const std::string& name, DType dtype, std::vector<int64_t> shape, Producer produce) {
  auto g = detail::geometry(dtype);
  if (g.elems == 0 || !ggml_from_dtype(dtype))
    throw UnsupportedError("GGUF writer: tensor '" + name + "' has a type GGUF cannot store");
  if (shape.empty() || shape.size() > 4) throw InvalidArgumentError("GGUF writer: tensor '" + name + "' must have 1 to 4 dimensions");
  int64_t numel = 1;
  for (auto d : shape) {
    if (d <= 0) throw InvalidArgumentError("GGUF writer: tensor '" + name + "' has a non-positive dimension");
    numel *= d;
  }
  if (shape.back() % int64_t(g.elems) != 0)
    throw InvalidArgumentError("GGUF writer: tensor '" + name + "': row length " + std::to_string(shape.back()) +
                               " is not a multiple of the block size " + std::to_string(g.elems));
  for (auto& t : tensors_)
    if (t.name == name) throw InvalidArgumentError("GGUF writer: tensor '" + name + "' added twice");
  tensors_.push_back({name, dtype, std::move(shape), size_t(numel) / g.elems * g.bytes, std::move(produce)});
}

void Writer::write(const std::filesystem::path& path,
                   const std::function<void(uint64_t, uint64_t, const std::string&)>& progress) const {
  std::vector<uint8_t> head;
  Out o(head);
  o.put<uint32_t>(0x46554747u);  // "GGUF"
  o.put<uint32_t>(3);
  o.put<uint64_t>(tensors_.size());
  bool has_alignment = false;
  for (auto& [k, v] : metadata_) has_alignment |= k == "general.alignment";
  o.put<uint64_t>(metadata_.size() + (has_alignment || alignment_ == 32 ? 0 : 1));
  for (auto& [k, v] : metadata_) {
    o.str(k);
    o.put<uint32_t>(uint32_t(v.type));
    put_value(o, v.type, v.array_type, v.array ? v.array->to_json() : v.value, k);
  }
  if (!has_alignment && alignment_ != 32) {
    o.str("general.alignment");
    o.put<uint32_t>(uint32_t(ValueType::U32));
    o.put<uint32_t>(uint32_t(alignment_));
  }
  uint64_t offset = 0, total = 0;
  for (auto& t : tensors_) {
    o.str(t.name);
    o.put<uint32_t>(uint32_t(t.shape.size()));
    for (auto it = t.shape.rbegin(); it != t.shape.rend(); ++it) o.put<uint64_t>(uint64_t(*it));
    o.put<uint32_t>(uint32_t(*ggml_from_dtype(t.dtype)));
    o.put<uint64_t>(offset);
    offset += (t.nbytes + alignment_ - 1) / alignment_ * alignment_;
    total += t.nbytes;
  }
  head.resize((head.size() + alignment_ - 1) / alignment_ * alignment_, 0);

  auto tmp = path;
  tmp += ".part";
  // Remove the partial file whatever goes wrong below.
  struct Cleanup {
    std::filesystem::path p;
    bool armed = true;
    ~Cleanup() {
      std::error_code ec;
      if (armed) std::filesystem::remove(p, ec);
    }
  } cleanup{tmp};
  std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
  if (!f) throw IoError(path.string() + ": cannot open for writing: " + std::strerror(errno));
  f.write(reinterpret_cast<const char*>(head.data()), std::streamsize(head.size()));
  static const char zeros[64] = {};
  uint64_t done = 0;
  for (auto& t : tensors_) {
    std::vector<uint8_t> data = t.produce();
    if (data.size() != t.nbytes)
      throw InvalidArgumentError("GGUF writer: tensor '" + t.name + "' produced " + std::to_string(data.size()) +
                                 " bytes, expected " + std::to_string(t.nbytes));
    f.write(reinterpret_cast<const char*>(data.data()), std::streamsize(data.size()));
    size_t pad = (alignment_ - data.size() % alignment_) % alignment_;
    while (pad > 0) {
      size_t k = std::min(pad, sizeof zeros);
      f.write(zeros, std::streamsize(k));
      pad -= k;
    }
    done += t.nbytes;
    if (!f) throw IoError(path.string() + ": write failed at tensor '" + t.name + "'");
    if (progress) progress(done, total, t.name);
  }
  f.close();
  if (!f) throw IoError(path.string() + ": write failed");
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) throw IoError(path.string() + ": cannot rename " + tmp.string() + ": " + ec.message());
  cleanup.armed = false;
}

}  // namespace allm::gguf
