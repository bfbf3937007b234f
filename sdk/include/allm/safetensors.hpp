#pragma once
// safetensors reader: an 8-byte little-endian header length, a JSON header
// {name: {dtype, shape, data_offsets:[begin,end]}, "__metadata__": {...}},
// then the raw tensor bytes (offsets are relative to the end of the header).
// Files are memory-mapped; tensors are views into the mapping.
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "allm/mapped_file.hpp"
#include "allm/tensor.hpp"

namespace allm {

// Headers larger than this are refused as corrupt (the format's own limit).
inline constexpr uint64_t kMaxSafetensorsHeaderBytes = 100ull * 1024 * 1024;

struct SafetensorsEntry {
  std::string name;
  DType dtype = DType::F32;
  std::vector<int64_t> shape;
  uint64_t begin = 0;  // byte offsets relative to the data region
  uint64_t end = 0;
};

struct SafetensorsHeader {
  uint64_t data_offset = 0;  // 8 + JSON header length: where the data region starts
  std::vector<SafetensorsEntry> tensors;  // in file order of their data
  std::map<std::string, std::string> metadata;
};

// Parses and validates the header of a complete file image of `size` bytes:
// header length within the file, well-formed JSON, known dtypes, byte sizes
// agreeing with shape x dtype, offsets inside the data region and not
// overlapping. `source` names the file in error messages (ModelLoadError,
// or UnsupportedError for a dtype this library has no type for).
SafetensorsHeader parse_safetensors_header(const uint8_t* data, size_t size, const std::string& source);

// "F32" -> DType::F32 etc.; false for names this library does not know.
bool safetensors_dtype_from_name(const std::string& name, DType& out) noexcept;

class SafetensorsFile {
 public:
  // Maps `path` and parses its header (errors as above; IoError when unreadable).
  static SafetensorsFile open(const std::filesystem::path& path);

  const std::filesystem::path& path() const noexcept { return file_->path(); }
  const std::vector<Tensor>& tensors() const noexcept { return tensors_; }
  const std::map<std::string, std::string>& metadata() const noexcept { return metadata_; }
  const Tensor* find(const std::string& name) const noexcept;
  // Throws ModelLoadError naming the file and tensor when absent.
  const Tensor& get(const std::string& name) const;
  // The mapping the tensor views point into.
  const std::shared_ptr<const MappedFile>& mapping() const noexcept { return file_; }

 private:
  std::shared_ptr<const MappedFile> file_;
  std::vector<Tensor> tensors_;
  std::map<std::string, size_t> index_;
  std::map<std::string, std::string> metadata_;
};

}  // namespace allm
