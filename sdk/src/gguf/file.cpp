// GGUF reader: parses and validates the header, metadata and tensor table of
// a memory-mapped file. Every failure names the file and the key or tensor.
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <limits>

#include "allm/error.hpp"
#include "allm/gguf.hpp"
#include "gguf/types.hpp"

namespace allm::gguf {
namespace {

constexpr uint32_t kMaxDims = 4;           // GGML_MAX_DIMS
constexpr int kMaxArrayNesting = 8;
// Arrays are read in place (gguf.hpp, Array): numbers and bools cost nothing
// per element. Strings cost an 8-byte offset and nested arrays an Array each,
// and a vocabulary's strings become JSON later (tokenizer_json_from_gguf), so
// those are capped in total: the largest real vocabularies (262k tokens:
// tokens and merges) hold about 1.5M strings.
constexpr uint64_t kMaxMetadataElements = uint64_t{1} << 22;
constexpr uint64_t kMaxNameLength = 65535;  // keys and tensor names

// Bounds-checked little-endian reader over the file bytes.
class Cursor {
 public:
  Cursor(const uint8_t* data, size_t size, const std::string& origin)
      : data_(data), size_(size), origin_(origin) {}
  size_t pos() const { return pos_; }
  size_t remaining() const { return size_ - pos_; }
  const uint8_t* here() const { return data_ + pos_; }
  void skip(size_t n) { pos_ += n; }  // n <= remaining(), checked by the caller

  [[noreturn]] void fail(const std::string& what) const {
    throw ModelLoadError(origin_ + ": " + what + " (at byte offset " + std::to_string(pos_) + ")");
  }
  template <class T>
  T read(const std::string& what) {
    if (remaining() < sizeof(T)) fail("truncated file while reading " + what);
    T v;
    std::memcpy(&v, data_ + pos_, sizeof(T));
    pos_ += sizeof(T);
    return v;
  }
  std::string string(const std::string& what, uint64_t max_len = std::numeric_limits<uint64_t>::max()) {
    auto n = read<uint64_t>(what + " length");
    if (n > remaining()) fail(what + ": string of " + std::to_string(n) + " bytes runs past the end of the file");
    if (n > max_len) fail(what + ": string of " + std::to_string(n) + " bytes is too long");
    std::string s(reinterpret_cast<const char*>(data_ + pos_), n);
    pos_ += n;
    return s;
  }

 private:
  const uint8_t* data_;
  size_t size_;
  size_t pos_ = 0;
  const std::string& origin_;
};

size_t min_encoded_size(ValueType t) {
  switch (t) {
    case ValueType::U8: case ValueType::I8: case ValueType::BOOL: return 1;
    case ValueType::U16: case ValueType::I16: return 2;
    case ValueType::U32: case ValueType::I32: case ValueType::F32: return 4;
    case ValueType::U64: case ValueType::I64: case ValueType::F64: return 8;
    case ValueType::STRING: return 8;
    case ValueType::ARRAY: return 12;
  }
  return 1;
}

bool fixed_size(ValueType t) { return t != ValueType::STRING && t != ValueType::ARRAY; }

bool known_value_type(uint32_t t) { return t <= 12; }

nlohmann::json read_scalar(Cursor& c, ValueType t, const std::string& key) {
  switch (t) {
    case ValueType::U8: return c.read<uint8_t>(key);
    case ValueType::I8: return c.read<int8_t>(key);
    case ValueType::U16: return c.read<uint16_t>(key);
    case ValueType::I16: return c.read<int16_t>(key);
    case ValueType::U32: return c.read<uint32_t>(key);
    case ValueType::I32: return c.read<int32_t>(key);
    case ValueType::F32: return c.read<float>(key);
    case ValueType::U64: return c.read<uint64_t>(key);
    case ValueType::I64: return c.read<int64_t>(key);
    case ValueType::F64: return c.read<double>(key);
    case ValueType::BOOL: {
      auto b = c.read<uint8_t>(key);
      if (b > 1) c.fail("metadata '" + key + "': bool value " + std::to_string(b) + " is neither 0 nor 1");
      return b != 0;
    }
    case ValueType::STRING: return c.string("metadata '" + key + "'");
    case ValueType::ARRAY: break;
  }
  c.fail("metadata '" + key + "': unknown value type");
}

}  // namespace

// Reads an array's header and elements in place (Array is compact, so the
// element count a file claims allocates nothing but string offsets and nested
// arrays, and those only up to kMaxMetadataElements).
struct ArrayReader {
  Cursor& c;
  const std::string& key;
  uint64_t& costly;  // strings and nested arrays so far, all arrays of the file

  Array read(int depth) {
    if (depth >= kMaxArrayNesting) c.fail("metadata '" + key + "': arrays nested too deeply");
    auto et = c.read<uint32_t>(key + " array type");
    if (!known_value_type(et)) c.fail("metadata '" + key + "': unknown array element type " + std::to_string(et));
    auto n = c.read<uint64_t>(key + " array length");
    auto elem = static_cast<ValueType>(et);
    const size_t width = min_encoded_size(elem);
    if (n > c.remaining() / width)
      c.fail("metadata '" + key + "': array of " + std::to_string(n) + " elements runs past the end of the file");
    Array a;
    a.type_ = elem;
    a.size_ = size_t(n);
    a.data_ = c.here();
    if (fixed_size(elem)) {
      if (elem == ValueType::BOOL)
        for (uint64_t i = 0; i < n; ++i)
          if (a.data_[i] > 1)
            c.fail("metadata '" + key + "'[" + std::to_string(i) + "]: bool value " + std::to_string(a.data_[i]) +
                   " is neither 0 nor 1");
      c.skip(size_t(n) * width);
      return a;
    }
    if (n > kMaxMetadataElements - std::min(costly, kMaxMetadataElements))
      c.fail("metadata '" + key + "': array of " + std::to_string(n) + " " +
             (elem == ValueType::STRING ? "strings" : "arrays") + " exceeds the limit of " +
             std::to_string(kMaxMetadataElements) + " strings and nested arrays in the metadata arrays of one file");
    costly += n;
    if (elem == ValueType::STRING) {
      a.offsets_.reserve(size_t(n));
      for (uint64_t i = 0; i < n; ++i) {
        a.offsets_.push_back(uint64_t(c.here() - a.data_));
        auto len = c.read<uint64_t>("metadata '" + key + "'[" + std::to_string(i) + "] length");
        if (len > c.remaining())
          c.fail("metadata '" + key + "'[" + std::to_string(i) + "]: string of " + std::to_string(len) +
                 " bytes runs past the end of the file");
        c.skip(size_t(len));
      }
    } else {
      a.nested_.reserve(size_t(n));
      for (uint64_t i = 0; i < n; ++i) a.nested_.push_back(read(depth + 1));
    }
    return a;
  }
};

namespace {

template <class T>
T load_le(const uint8_t* p) {
  T v;
  std::memcpy(&v, p, sizeof(T));
  return v;
}

[[noreturn]] void wrong_element(const Array& a, const char* wanted) {
  throw InvalidArgumentError(std::string("GGUF array of ") + value_type_name(a.type()) + " read as " + wanted);
}

}  // namespace

std::shared_ptr<File> File::open(const std::filesystem::path& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw IoError(path.string() + ": cannot open: " + std::strerror(errno));
  struct stat st {};
  if (fstat(fd, &st) != 0) {
    int e = errno;
    ::close(fd);
    throw IoError(path.string() + ": cannot stat: " + std::strerror(e));
  }
  size_t size = size_t(st.st_size);
  void* map = nullptr;
  if (size > 0) {
    map = mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (map == MAP_FAILED) {
      int e = errno;
      ::close(fd);
      throw IoError(path.string() + ": cannot map: " + std::strerror(e));
    }
  }
  ::close(fd);
  std::shared_ptr<File> f(new File());
  f->origin_ = path.string();
  f->mapping_ = map;
  f->mapping_size_ = size;
  f->base_ = static_cast<const uint8_t*>(map);
  f->size_ = size;
  f->parse_all();
  return f;
}

std::shared_ptr<File> File::parse(const uint8_t* data, size_t size, std::string origin) {
  std::shared_ptr<File> f(new File());
  f->origin_ = std::move(origin);
  f->base_ = data;
  f->size_ = size;
  f->parse_all();
  return f;
}

File::~File() {
  if (mapping_) munmap(mapping_, mapping_size_);
}

void File::release(const void* data, size_t bytes) const {
  const auto* p = static_cast<const uint8_t*>(data);
  const auto* map = static_cast<const uint8_t*>(mapping_);
  if (!map || p < map || p + bytes > map + mapping_size_) return;
  const uintptr_t page = uintptr_t(sysconf(_SC_PAGESIZE));
  const uintptr_t first = (uintptr_t(p) + page - 1) / page * page, last = (uintptr_t(p) + bytes) / page * page;
  // A read-only private file mapping: dropped pages come back from the file.
  if (first < last) madvise(reinterpret_cast<void*>(first), last - first, MADV_DONTNEED);
}

void File::parse_all() {
  static const uint8_t empty = 0;
  Cursor c(base_ ? base_ : &empty, base_ ? size_ : 0, origin_);
  auto magic = c.read<uint32_t>("magic");
  if (std::memcmp(&magic, "GGUF", 4) != 0) c.fail("not a GGUF file (bad magic)");
  version_ = c.read<uint32_t>("version");
  if (version_ != 2 && version_ != 3)
    c.fail("unsupported GGUF version " + std::to_string(version_) + " (expected 2 or 3)");
  auto n_tensors = c.read<uint64_t>("tensor count");
  auto n_kv = c.read<uint64_t>("metadata count");
  // Each metadata entry needs >= 8+1+4+1 bytes, each tensor info >= 8+1+4+8+4+8.
  if (n_kv > c.remaining() / 14) c.fail("metadata count " + std::to_string(n_kv) + " is larger than the file can hold");
  if (n_tensors > c.remaining() / 33) c.fail("tensor count " + std::to_string(n_tensors) + " is larger than the file can hold");

  uint64_t costly_elements = 0;  // strings and nested arrays in all metadata arrays (kMaxMetadataElements)
  for (uint64_t i = 0; i < n_kv; ++i) {
    std::string key = c.string("metadata key #" + std::to_string(i), kMaxNameLength);
    auto t = c.read<uint32_t>("type of metadata '" + key + "'");
    if (!known_value_type(t)) c.fail("metadata '" + key + "': unknown value type " + std::to_string(t));
    Value v;
    v.type = static_cast<ValueType>(t);
    if (v.type == ValueType::ARRAY) {
      auto a = std::make_shared<Array>(ArrayReader{c, key, costly_elements}.read(0));
      v.array_type = a->type();
      v.array = std::move(a);
    } else {
      v.value = read_scalar(c, v.type, key);
    }
    if (!metadata_.emplace(key, std::move(v)).second) c.fail("metadata key '" + key + "' appears twice");
  }

  if (auto it = metadata_.find("general.alignment"); it != metadata_.end()) {
    const auto& v = it->second;
    if (v.type != ValueType::U32) c.fail("metadata 'general.alignment' must be u32, not " + std::string(value_type_name(v.type)));
    uint64_t a = v.value.get<uint64_t>();
    if (a == 0 || (a & (a - 1)) != 0) c.fail("metadata 'general.alignment' = " + std::to_string(a) + " is not a power of two");
    alignment_ = a;
  }

  tensors_.reserve(n_tensors);
  for (uint64_t i = 0; i < n_tensors; ++i) {
    TensorInfo t;
    t.name = c.string("name of tensor #" + std::to_string(i), kMaxNameLength);
    auto nd = c.read<uint32_t>("dimension count of tensor '" + t.name + "'");
    if (nd == 0 || nd > kMaxDims) c.fail("tensor '" + t.name + "': " + std::to_string(nd) + " dimensions (expected 1 to 4)");
    uint64_t numel = 1;
    for (uint32_t d = 0; d < nd; ++d) {
      auto ne = c.read<uint64_t>("shape of tensor '" + t.name + "'");
      if (ne == 0 || ne > (uint64_t(1) << 40)) c.fail("tensor '" + t.name + "': dimension " + std::to_string(d) + " = " + std::to_string(ne) + " is out of range");
      if (numel > std::numeric_limits<uint64_t>::max() / ne) c.fail("tensor '" + t.name + "': element count overflows");
      numel *= ne;
      t.ne.push_back(ne);
    }
    if (numel > (uint64_t(1) << 48)) c.fail("tensor '" + t.name + "': element count is absurd");
    t.ggml_type = c.read<uint32_t>("type of tensor '" + t.name + "'");
    auto dt = dtype_from_ggml(t.ggml_type);
    auto geo = dt ? detail::geometry(*dt) : detail::BlockGeometry{};
    if (!dt || geo.elems == 0) c.fail("tensor '" + t.name + "': unsupported ggml type " + std::to_string(t.ggml_type));
    t.dtype = *dt;
    if (t.ne[0] % geo.elems != 0)
      c.fail("tensor '" + t.name + "': row length " + std::to_string(t.ne[0]) + " is not a multiple of the " +
             detail::format_name(t.dtype) + " block size " + std::to_string(geo.elems));
    t.nbytes = numel / geo.elems * geo.bytes;
    t.offset = c.read<uint64_t>("offset of tensor '" + t.name + "'");
    if (t.offset % alignment_ != 0)
      c.fail("tensor '" + t.name + "': data offset " + std::to_string(t.offset) + " is not aligned to " + std::to_string(alignment_));
    if (!tensor_index_.emplace(t.name, tensors_.size()).second) c.fail("tensor '" + t.name + "' appears twice");
    tensors_.push_back(std::move(t));
  }

  data_offset_ = (c.pos() + alignment_ - 1) / alignment_ * alignment_;
  uint64_t data_size = size_ > data_offset_ ? size_ - data_offset_ : 0;
  if (!tensors_.empty() && data_offset_ > size_)
    throw ModelLoadError(origin_ + ": tensor data section starts at " + std::to_string(data_offset_) + ", past the end of the file");

  // Offsets inside the data section, no two tensors sharing bytes.
  std::vector<const TensorInfo*> by_offset;
  for (auto& t : tensors_) {
    if (t.offset > data_size || t.nbytes > data_size - t.offset)
      throw ModelLoadError(origin_ + ": tensor '" + t.name + "': data [" + std::to_string(t.offset) + ", " +
                           std::to_string(t.offset + t.nbytes) + ") runs past the end of the file (data section is " +
                           std::to_string(data_size) + " bytes)");
    by_offset.push_back(&t);
  }
  std::sort(by_offset.begin(), by_offset.end(), [](auto* a, auto* b) { return a->offset < b->offset; });
  for (size_t i = 1; i < by_offset.size(); ++i) {
    auto* prev = by_offset[i - 1];
    if (prev->offset + prev->nbytes > by_offset[i]->offset)
      throw ModelLoadError(origin_ + ": tensor '" + by_offset[i]->name + "' overlaps the data of tensor '" + prev->name + "'");
  }
  if (base_ && !tensors_.empty() && (reinterpret_cast<uintptr_t>(base_ + data_offset_) % 4) != 0)
    throw ModelLoadError(origin_ + ": tensor data is misaligned in memory");
}

const Value* File::find(const std::string& key) const {
  auto it = metadata_.find(key);
  return it == metadata_.end() ? nullptr : &it->second;
}

static bool is_integer_type(ValueType t) {
  switch (t) {
    case ValueType::U8: case ValueType::I8: case ValueType::U16: case ValueType::I16:
    case ValueType::U32: case ValueType::I32: case ValueType::U64: case ValueType::I64: return true;
    default: return false;
  }
}

std::optional<std::string> File::get_string(const std::string& key) const {
  auto* v = find(key);
  if (!v) return std::nullopt;
  if (v->type != ValueType::STRING)
    throw ModelLoadError(origin_ + ": metadata '" + key + "' is " + value_type_name(v->type) + ", expected a string");
  return v->value.get<std::string>();
}

std::optional<int64_t> File::get_int(const std::string& key) const {
  auto* v = find(key);
  if (!v) return std::nullopt;
  if (!is_integer_type(v->type))
    throw ModelLoadError(origin_ + ": metadata '" + key + "' is " + value_type_name(v->type) + ", expected an integer");
  if (v->type == ValueType::U64 && v->value.get<uint64_t>() > uint64_t(std::numeric_limits<int64_t>::max()))
    throw ModelLoadError(origin_ + ": metadata '" + key + "' is out of range");
  return v->value.get<int64_t>();
}

std::optional<double> File::get_float(const std::string& key) const {
  auto* v = find(key);
  if (!v) return std::nullopt;
  if (!is_integer_type(v->type) && v->type != ValueType::F32 && v->type != ValueType::F64)
    throw ModelLoadError(origin_ + ": metadata '" + key + "' is " + value_type_name(v->type) + ", expected a number");
  return v->value.get<double>();
}

std::optional<bool> File::get_bool(const std::string& key) const {
  auto* v = find(key);
  if (!v) return std::nullopt;
  if (v->type != ValueType::BOOL)
    throw ModelLoadError(origin_ + ": metadata '" + key + "' is " + value_type_name(v->type) + ", expected a bool");
  return v->value.get<bool>();
}

const Array* File::get_array(const std::string& key) const {
  auto* v = find(key);
  if (!v) return nullptr;
  if (v->type != ValueType::ARRAY)
    throw ModelLoadError(origin_ + ": metadata '" + key + "' is " + value_type_name(v->type) + ", expected an array");
  return v->array.get();
}

bool Array::is_integer() const { return is_integer_type(type_); }
bool Array::is_number() const { return is_integer_type(type_) || type_ == ValueType::F32 || type_ == ValueType::F64; }

int64_t Array::integer(size_t i) const {
  const uint8_t* p = data_ + i * min_encoded_size(type_);
  switch (type_) {
    case ValueType::U8: return *p;
    case ValueType::I8: return int8_t(*p);
    case ValueType::U16: return load_le<uint16_t>(p);
    case ValueType::I16: return load_le<int16_t>(p);
    case ValueType::U32: return load_le<uint32_t>(p);
    case ValueType::I32: return load_le<int32_t>(p);
    case ValueType::I64: return load_le<int64_t>(p);
    case ValueType::U64: {
      auto v = load_le<uint64_t>(p);
      if (v > uint64_t(std::numeric_limits<int64_t>::max()))
        throw InvalidArgumentError("GGUF u64 array element " + std::to_string(v) + " is out of the int64 range");
      return int64_t(v);
    }
    default: wrong_element(*this, "integers");
  }
}

double Array::number(size_t i) const {
  if (type_ == ValueType::F32) return load_le<float>(data_ + i * 4);
  if (type_ == ValueType::F64) return load_le<double>(data_ + i * 8);
  if (type_ == ValueType::U64) return double(load_le<uint64_t>(data_ + i * 8));
  if (!is_integer()) wrong_element(*this, "numbers");
  return double(integer(i));
}

bool Array::boolean(size_t i) const {
  if (type_ != ValueType::BOOL) wrong_element(*this, "bools");
  return data_[i] != 0;
}

std::string_view Array::string(size_t i) const {
  if (type_ != ValueType::STRING) wrong_element(*this, "strings");
  const uint8_t* p = data_ + offsets_[i];
  return {reinterpret_cast<const char*>(p + 8), size_t(load_le<uint64_t>(p))};
}

const Array& Array::array(size_t i) const {
  if (type_ != ValueType::ARRAY) wrong_element(*this, "arrays");
  return nested_[i];
}

nlohmann::json Array::to_json() const {
  nlohmann::json out = nlohmann::json::array();
  auto& items = out.get_ref<nlohmann::json::array_t&>();
  items.reserve(size_);
  for (size_t i = 0; i < size_; ++i) {
    switch (type_) {
      case ValueType::STRING: items.emplace_back(std::string(string(i))); break;
      case ValueType::ARRAY: items.push_back(nested_[i].to_json()); break;
      case ValueType::BOOL: items.emplace_back(boolean(i)); break;
      case ValueType::F32: items.emplace_back(load_le<float>(data_ + i * 4)); break;
      case ValueType::F64: items.emplace_back(load_le<double>(data_ + i * 8)); break;
      case ValueType::U64: items.emplace_back(load_le<uint64_t>(data_ + i * 8)); break;
      case ValueType::U8: case ValueType::U16: case ValueType::U32: items.emplace_back(uint64_t(integer(i))); break;
      default: items.emplace_back(integer(i)); break;
    }
  }
  return out;
}

const TensorInfo* File::find_tensor(const std::string& name) const {
  auto it = tensor_index_.find(name);
  return it == tensor_index_.end() ? nullptr : &tensors_[it->second];
}

Tensor File::view(const TensorInfo& info) const {
  Tensor t;
  t.name = info.name;
  t.dtype = info.dtype;
  for (auto it = info.ne.rbegin(); it != info.ne.rend(); ++it) t.shape.push_back(int64_t(*it));
  t.data = tensor_data(info);
  t.nbytes = info.nbytes;
  return t;
}

}  // namespace allm::gguf
