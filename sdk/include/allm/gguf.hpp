#pragma once
// GGUF: llama.cpp's single-file model format. Reading (memory-mapped, tensors
// presented as allm::Tensor views in their stored block format), writing, the
// block-format kernels (dequantize / dot / quantize) and the mapping of a GGUF
// file onto an allm::Checkpoint (HF-style config, tensor names, tokenizer.json).
// See docs/gguf.md.
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "allm/checkpoint.hpp"
#include "allm/tensor.hpp"

namespace allm::gguf {

// ---------------------------------------------------------------- metadata
enum class ValueType : uint32_t {
  U8 = 0, I8 = 1, U16 = 2, I16 = 3, U32 = 4, I32 = 5, F32 = 6, BOOL = 7,
  STRING = 8, ARRAY = 9, U64 = 10, I64 = 11, F64 = 12,
};
const char* value_type_name(ValueType t) noexcept;

// A metadata array as the file stores it: typed, read in place. Numbers and
// bools are decoded from the file's bytes when asked for, strings are views
// of the file, so an array costs no memory per element (strings: 8 bytes of
// offset; nested arrays: one Array each) however many elements the file
// claims. Valid as long as the File that read it lives.
class Array {
 public:
  ValueType type() const { return type_; }  // element type
  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  bool is_integer() const;  // U8 .. I64
  bool is_number() const;   // integers, F32, F64
  // Element i (i < size()); InvalidArgumentError when the element type is not
  // the one asked for (or a U64 above INT64_MAX for integer()).
  int64_t integer(size_t i) const;
  double number(size_t i) const;
  bool boolean(size_t i) const;
  std::string_view string(size_t i) const;
  const Array& array(size_t i) const;
  // The whole array as JSON (for writing it out, and for small arrays).
  nlohmann::json to_json() const;

 private:
  friend class File;
  friend struct ArrayReader;
  ValueType type_ = ValueType::U8;
  size_t size_ = 0;
  const uint8_t* data_ = nullptr;  // fixed-size elements: size_ little-endian values in a row
  std::vector<uint64_t> offsets_;  // STRING: each string's length prefix, from data_
  std::vector<Array> nested_;      // ARRAY
};

// One metadata value. Scalars are in `value` (number, bool or string).
// Arrays read from a file are in `array` (compact, see Array) and `value` is
// null; arrays given to a Writer are a JSON array in `value`. `type` /
// `array_type` keep the exact GGUF typing so a file can be rewritten
// faithfully; nested arrays have array_type ARRAY and their inner typing is
// inferred when written.
struct Value {
  ValueType type = ValueType::U32;
  ValueType array_type = ValueType::U32;  // ARRAY only
  nlohmann::json value;
  std::shared_ptr<const Array> array;     // ARRAY read from a file

  Value() = default;
  Value(ValueType t, ValueType elem, nlohmann::json v, std::shared_ptr<const Array> a = nullptr)
      : type(t), array_type(elem), value(std::move(v)), array(std::move(a)) {}
  // `value`, or the array as JSON.
  nlohmann::json as_json() const { return array ? array->to_json() : value; }

  static Value u32(uint32_t v) { return {ValueType::U32, ValueType::U32, v}; }
  static Value i32(int32_t v) { return {ValueType::I32, ValueType::U32, v}; }
  static Value u64(uint64_t v) { return {ValueType::U64, ValueType::U32, v}; }
  static Value f32(float v) { return {ValueType::F32, ValueType::U32, v}; }
  static Value boolean(bool v) { return {ValueType::BOOL, ValueType::U32, v}; }
  static Value string(std::string v) { return {ValueType::STRING, ValueType::U32, std::move(v)}; }
  static Value array_of(ValueType elem, nlohmann::json items) {
    return {ValueType::ARRAY, elem, std::move(items)};
  }
};

// GGML tensor type ids as stored in the file.
enum class GgmlType : uint32_t {
  F32 = 0, F16 = 1, Q4_0 = 2, Q4_1 = 3, Q5_0 = 6, Q5_1 = 7, Q8_0 = 8, Q8_1 = 9,
  Q2_K = 10, Q3_K = 11, Q4_K = 12, Q5_K = 13, Q6_K = 14, Q8_K = 15, BF16 = 30, MXFP4 = 39,
};
// nullopt for types allm does not read (IQ*, TQ*, ...).
std::optional<DType> dtype_from_ggml(uint32_t ggml_type) noexcept;
std::optional<GgmlType> ggml_from_dtype(DType t) noexcept;
// Bytes of `n` consecutive elements of a row (n a multiple of the block size).
size_t row_bytes(DType t, int64_t n) noexcept;

struct TensorInfo {
  std::string name;
  uint32_t ggml_type = 0;
  DType dtype = DType::F32;
  std::vector<uint64_t> ne;  // GGUF order: ne[0] is the contiguous (column) dimension
  uint64_t offset = 0;       // relative to the data section
  uint64_t nbytes = 0;
};

// A parsed GGUF file. Tensor data stays in the mapping; views are valid as
// long as the File lives.
class File {
 public:
  // Memory-maps and validates `path`. Throws ModelLoadError / IoError naming
  // the file and the offending key or tensor.
  static std::shared_ptr<File> open(const std::filesystem::path& path);
  // Parses a buffer the caller keeps alive (fuzzing, tests).
  static std::shared_ptr<File> parse(const uint8_t* data, size_t size, std::string origin);
  ~File();
  File(const File&) = delete;
  File& operator=(const File&) = delete;

  const std::string& origin() const { return origin_; }
  // Tells the OS the mapped pages wholly inside [data, data+bytes) are not
  // needed now (a repacked copy replaced them). They stay readable: touched
  // again, they are read back from the file. No-op outside the mapping.
  void release(const void* data, size_t bytes) const;
  uint32_t version() const { return version_; }
  uint64_t alignment() const { return alignment_; }
  uint64_t data_offset() const { return data_offset_; }

  const std::map<std::string, Value>& metadata() const { return metadata_; }
  const Value* find(const std::string& key) const;
  // Typed accessors: nullopt when absent; ModelLoadError naming the key on a type mismatch.
  std::optional<std::string> get_string(const std::string& key) const;
  std::optional<int64_t> get_int(const std::string& key) const;  // any integer type
  std::optional<double> get_float(const std::string& key) const; // any number type
  std::optional<bool> get_bool(const std::string& key) const;
  const Array* get_array(const std::string& key) const;

  const std::vector<TensorInfo>& tensors() const { return tensors_; }
  const TensorInfo* find_tensor(const std::string& name) const;
  // The tensor as a view: shape reversed to PyTorch order ([ne1, ne0] for a matrix).
  Tensor view(const TensorInfo& info) const;
  const uint8_t* tensor_data(const TensorInfo& info) const { return base_ + data_offset_ + info.offset; }

 private:
  File() = default;
  void parse_all();
  std::string origin_;
  const uint8_t* base_ = nullptr;
  size_t size_ = 0;
  void* mapping_ = nullptr;  // owned mmap, if any
  size_t mapping_size_ = 0;
  uint32_t version_ = 0;
  uint64_t alignment_ = 32;
  uint64_t data_offset_ = 0;
  std::map<std::string, Value> metadata_;
  std::vector<TensorInfo> tensors_;
  std::map<std::string, size_t> tensor_index_;
};

// ---------------------------------------------------------------- writer
class Writer {
 public:
  // Produces a tensor's bytes when write() reaches it (keeps memory flat while
  // converting large checkpoints).
  using Producer = std::function<std::vector<uint8_t>()>;

  explicit Writer(uint64_t alignment = 32) : alignment_(alignment) {}
  void set(const std::string& key, Value v);
  // `shape` in PyTorch order; the data must hold row_bytes(dtype, cols) * rows bytes.
  void add_tensor(const std::string& name, DType dtype, std::vector<int64_t> shape, std::vector<uint8_t> data);
  void add_tensor(const std::string& name, DType dtype, std::vector<int64_t> shape, Producer produce);
  size_t tensor_count() const { return tensors_.size(); }
  // Writes the file (v3) through a temporary "<path>.part" renamed at the end.
  // `progress(done_bytes, total_bytes, tensor)` is called after each tensor.
  void write(const std::filesystem::path& path,
             const std::function<void(uint64_t, uint64_t, const std::string&)>& progress = {}) const;

 private:
  struct Pending {
    std::string name;
    DType dtype;
    std::vector<int64_t> shape;
    size_t nbytes;
    Producer produce;
  };
  uint64_t alignment_;
  std::vector<std::pair<std::string, Value>> metadata_;
  std::vector<Pending> tensors_;
};

// ---------------------------------------------------------------- block kernels
// All functions take `n` elements of one row; n must be a multiple of
// dtype_block_elems(t). Supported: F32, F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1,
// Q8_0, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K (others throw UnsupportedError).
bool kernels_support(DType t) noexcept;
void dequantize_row(DType t, const void* row, float* out, int64_t n);
// sum_i w[i] * x[i] with w dequantized on the fly.
float dot_row_f32(DType t, const void* row, const float* x, int64_t n);

// Activations quantised the way llama.cpp does for integer dot products:
// Q8_0-style blocks of 32 (per-block f32 scale, int8 codes) plus per-block sums
// of the codes (used by the *_1 / K formats' offsets).
struct QuantizedActivations {
  int64_t n = 0;
  std::vector<float> scale;      // n / 32
  std::vector<int8_t> q;         // n
  std::vector<int16_t> bsum;     // n / 32: sum of the block's codes
};
void quantize_activations(const float* x, int64_t n, QuantizedActivations& out);
// Integer dot product of a stored row with quantised activations (AVX2 /
// AVX-512 VNNI picked at run time; scalar elsewhere). F32/F16/BF16 rows are
// not supported here (use dot_row_f32).
bool q8_dot_supported(DType t) noexcept;
float dot_row_q8(DType t, const void* row, const QuantizedActivations& x, int64_t n);
// Name of the SIMD path dot_row_q8 uses ("avx512vnni", "avx2", "scalar").
const char* q8_dot_isa() noexcept;

// Float -> block format, for the writer: F32, F16, BF16, Q8_0, Q4_0, Q4_1,
// Q5_0, Q5_1, Q4_K, Q5_K, Q6_K.
bool quantize_supported(DType t) noexcept;
void quantize_row(DType t, const float* x, void* out, int64_t n);

// ---------------------------------------------------------------- checkpoint
// Reads a .gguf as llama.cpp reads it and presents it as a Checkpoint with an
// HF-style config, HF tensor names and a synthesized tokenizer.json.
Checkpoint load_checkpoint(const std::filesystem::path& path);
// A .gguf name or the GGUF magic in the first bytes (what the GGUF loader
// plugin accepts).
bool looks_like_gguf(const std::filesystem::path& path);
// The weight formats of the GGUF block types (the engine's integer kernels
// for Q4_0 ... MXFP4), which only a GGUF checkpoint carries: registered by the
// GGUF loader plugin before it hands out its first checkpoint, and by tools
// that build block-typed tensors themselves. Idempotent.
void register_weight_formats();
// The pieces, for tests and tools.
nlohmann::json config_from_gguf(const File& file);
std::string tokenizer_json_from_gguf(const File& file);
// GGUF tensor name -> HF name for an HF model_type (as config_from_gguf
// chose it); nullopt for names with no HF counterpart. Stacked expert tensors
// map to a pattern with "{}" where the expert index goes; load_checkpoint
// expands them into one view per expert.
std::optional<std::string> hf_tensor_name(const std::string& model_type, const std::string& gguf_name);

// ---------------------------------------------------------------- conversion
// MXFP4_MOE: llama-quantize's MXFP4_MOE — experts MXFP4, other matrices Q8_0.
enum class FileType { F32, F16, BF16, Q8_0, Q4_0, Q4_K_M, MXFP4_MOE };
std::optional<FileType> file_type_from_name(const std::string& name) noexcept;

struct ConvertOptions {
  FileType type = FileType::F16;
  std::function<void(uint64_t done, uint64_t total, const std::string& tensor)> progress;
};
// Writes `checkpoint` (HF or MLX names and config) as a GGUF llama.cpp loads.
void write_checkpoint(const Checkpoint& checkpoint, const std::filesystem::path& out,
                      const ConvertOptions& options);

}  // namespace allm::gguf
