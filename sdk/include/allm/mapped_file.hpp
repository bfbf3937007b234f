#pragma once
// A read-only, private memory mapping of a whole file. Weights are views into
// such mappings; the mapping stays alive as long as anything holds the
// shared_ptr (the WeightStore keeps every file it maps).
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>

namespace allm {

class MappedFile {
 public:
  // Throws IoError naming the file when it cannot be opened or mapped.
  static std::shared_ptr<const MappedFile> open(const std::filesystem::path& path);
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const uint8_t* data() const noexcept { return data_; }
  size_t size() const noexcept { return size_; }
  const std::filesystem::path& path() const noexcept { return path_; }

 private:
  MappedFile(std::filesystem::path path, const uint8_t* data, size_t size)
      : path_(std::move(path)), data_(data), size_(size) {}
  std::filesystem::path path_;
  const uint8_t* data_ = nullptr;
  size_t size_ = 0;
};

}  // namespace allm
