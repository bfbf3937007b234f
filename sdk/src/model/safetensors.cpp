// safetensors header parsing and validation. Every check names the file and
// the tensor, because a corrupt download is the common way to get here.
#include "allm/json_depth.hpp"
#include "allm/safetensors.hpp"

#include <algorithm>
#include <cstring>

#include <nlohmann/json.hpp>

#include "allm/error.hpp"

namespace allm {

namespace {

[[noreturn]] void fail(const std::string& source, const std::string& what) {
  throw ModelLoadError(source + ": " + what);
}

std::string tensor_place(const std::string& source, const std::string& name) {
  return source + ": tensor '" + name + "'";
}

uint64_t read_u64_le(const uint8_t* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

std::vector<int64_t> parse_shape(const nlohmann::json& j, const std::string& place) {
  if (!j.is_array()) throw ModelLoadError(place + ": \"shape\" is not an array");
  std::vector<int64_t> shape;
  shape.reserve(j.size());
  for (const auto& d : j) {
    if (!d.is_number_unsigned()) throw ModelLoadError(place + ": \"shape\" holds " + d.dump() + ", not a non-negative integer");
    uint64_t v = d.get<uint64_t>();
    if (v > (uint64_t{1} << 62)) throw ModelLoadError(place + ": dimension " + std::to_string(v) + " is absurd");
    shape.push_back(static_cast<int64_t>(v));
  }
  return shape;
}

// numel * element size, or throws when it overflows 64 bits.
uint64_t byte_size(const std::vector<int64_t>& shape, size_t elem, const std::string& place) {
  unsigned __int128 n = elem;
  for (auto d : shape) {
    n *= static_cast<uint64_t>(d);
    if (n > UINT64_MAX) throw ModelLoadError(place + ": shape x dtype size overflows 64 bits");
  }
  return static_cast<uint64_t>(n);
}

std::string shape_string(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

}  // namespace

bool safetensors_dtype_from_name(const std::string& name, DType& out) noexcept {
  static const std::pair<const char*, DType> kNames[] = {
      {"F32", DType::F32}, {"F16", DType::F16}, {"BF16", DType::BF16}, {"F64", DType::F64},
      {"I8", DType::I8},   {"U8", DType::U8},   {"I16", DType::I16},   {"I32", DType::I32},
      {"U32", DType::U32}, {"I64", DType::I64}, {"BOOL", DType::BOOL},
  };
  for (const auto& [n, t] : kNames) {
    if (name == n) {
      out = t;
      return true;
    }
  }
  return false;
}

SafetensorsHeader parse_safetensors_header(const uint8_t* data, size_t size, const std::string& source) {
  if (size < 8)
    fail(source, "truncated: " + std::to_string(size) + " bytes, shorter than the 8-byte header length field");
  const uint64_t header_len = read_u64_le(data);
  if (header_len > kMaxSafetensorsHeaderBytes)
    fail(source, "header length " + std::to_string(header_len) + " is absurd (limit " +
                     std::to_string(kMaxSafetensorsHeaderBytes) + " bytes): not a safetensors file or corrupt");
  if (header_len > size - 8)
    fail(source, "truncated: header length " + std::to_string(header_len) + " runs past the end of the " +
                     std::to_string(size) + "-byte file");

  SafetensorsHeader out;
  out.data_offset = 8 + header_len;
  const uint64_t data_size = size - out.data_offset;

  nlohmann::json header;
  try {
    const char* text = reinterpret_cast<const char*>(data + 8);
    if (std::string depth = json_depth_error(std::string_view(text, header_len)); !depth.empty())
      fail(source, "JSON header: " + depth);
    header = nlohmann::json::parse(text, text + header_len);
  } catch (const nlohmann::json::parse_error& e) {
    // e.byte is 1-based within the JSON text; report the file offset too.
    fail(source, "malformed JSON header at byte " + std::to_string(e.byte + 7) + " of the file: " + e.what());
  } catch (const nlohmann::json::exception& e) {  // e.g. a number too large for any type
    fail(source, std::string("malformed JSON header: ") + e.what());
  }
  if (!header.is_object()) fail(source, "JSON header is " + std::string(header.type_name()) + ", not an object");

  for (auto it = header.begin(); it != header.end(); ++it) {
    const std::string& name = it.key();
    if (name == "__metadata__") {
      if (!it->is_object()) fail(source, "\"__metadata__\" is not an object");
      for (auto m = it->begin(); m != it->end(); ++m)
        out.metadata[m.key()] = m->is_string() ? m->get<std::string>() : m->dump();
      continue;
    }
    const std::string place = tensor_place(source, name);
    if (!it->is_object()) throw ModelLoadError(place + ": header entry is not an object");
    const auto& e = *it;
    auto dt = e.find("dtype");
    if (dt == e.end() || !dt->is_string()) throw ModelLoadError(place + ": missing string \"dtype\"");
    SafetensorsEntry entry;
    entry.name = name;
    if (!safetensors_dtype_from_name(dt->get<std::string>(), entry.dtype))
      throw UnsupportedError(place + ": dtype " + dt->get<std::string>() + " is not supported");
    auto sh = e.find("shape");
    if (sh == e.end()) throw ModelLoadError(place + ": missing \"shape\"");
    entry.shape = parse_shape(*sh, place);
    auto off = e.find("data_offsets");
    if (off == e.end() || !off->is_array() || off->size() != 2 || !(*off)[0].is_number_unsigned() ||
        !(*off)[1].is_number_unsigned())
      throw ModelLoadError(place + ": \"data_offsets\" must be two non-negative integers");
    entry.begin = (*off)[0].get<uint64_t>();
    entry.end = (*off)[1].get<uint64_t>();
    if (entry.end < entry.begin)
      throw ModelLoadError(place + ": data_offsets [" + std::to_string(entry.begin) + ", " + std::to_string(entry.end) +
                           "] end before they begin");
    if (entry.end > data_size)
      throw ModelLoadError(place + ": data_offsets [" + std::to_string(entry.begin) + ", " + std::to_string(entry.end) +
                           "] run past the end of the data (" + std::to_string(data_size) +
                           " bytes): file truncated or corrupt");
    const uint64_t expect = byte_size(entry.shape, dtype_size(entry.dtype), place);
    if (entry.end - entry.begin != expect)
      throw ModelLoadError(place + ": " + std::to_string(entry.end - entry.begin) + " bytes stored but shape " +
                           shape_string(entry.shape) + " of " + dtype_name(entry.dtype) + " needs " +
                           std::to_string(expect));
    out.tensors.push_back(std::move(entry));
  }

  std::sort(out.tensors.begin(), out.tensors.end(), [](const auto& a, const auto& b) {
    return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
  });
  for (size_t i = 1; i < out.tensors.size(); ++i) {
    const auto& prev = out.tensors[i - 1];
    const auto& cur = out.tensors[i];
    if (cur.begin < prev.end)
      fail(source, "tensors '" + prev.name + "' [" + std::to_string(prev.begin) + ", " + std::to_string(prev.end) +
                       ") and '" + cur.name + "' [" + std::to_string(cur.begin) + ", " + std::to_string(cur.end) +
                       ") overlap");
  }
  return out;
}

SafetensorsFile SafetensorsFile::open(const std::filesystem::path& path) {
  SafetensorsFile f;
  f.file_ = MappedFile::open(path);
  auto header = parse_safetensors_header(f.file_->data(), f.file_->size(), path.string());
  f.metadata_ = std::move(header.metadata);
  f.tensors_.reserve(header.tensors.size());
  for (auto& e : header.tensors) {
    Tensor t;
    t.name = std::move(e.name);
    t.dtype = e.dtype;
    t.shape = std::move(e.shape);
    t.data = f.file_->data() + header.data_offset + e.begin;
    t.nbytes = static_cast<size_t>(e.end - e.begin);
    f.index_[t.name] = f.tensors_.size();
    f.tensors_.push_back(std::move(t));
  }
  return f;
}

const Tensor* SafetensorsFile::find(const std::string& name) const noexcept {
  auto it = index_.find(name);
  return it == index_.end() ? nullptr : &tensors_[it->second];
}

const Tensor& SafetensorsFile::get(const std::string& name) const {
  if (const Tensor* t = find(name)) return *t;
  throw ModelLoadError(path().string() + ": no tensor named '" + name + "'");
}

}  // namespace allm
