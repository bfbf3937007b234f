#pragma once
// The tests' one scratch folder: a fresh, empty directory under the system
// temp directory, removed with everything in it when the object goes out of
// scope, whether the test passed or failed, so test runs leave nothing in
// /tmp. Each object gets its own folder (pid and random suffix), so tests
// running in parallel processes never share one.
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <system_error>

namespace allm::test {

class TempDir {
 public:
  TempDir() {
    std::random_device rd;
    const auto base = std::filesystem::temp_directory_path();
    do {  // create_directory is false when the name exists: draw another
      path_ = base / ("allm-test-" + std::to_string(::getpid()) + "-" + std::to_string(rd()));
    } while (!std::filesystem::create_directory(path_));
  }
  ~TempDir() {
    std::error_code ignored;  // a destructor must not throw; a leftover is all that can go wrong
    std::filesystem::remove_all(path_, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(const std::string& name) const { return path_ / name; }

  // Writes `text` to the file `name` (folders in it created); returns its path.
  std::filesystem::path write(const std::string& name, const std::string& text) const {
    const auto file = path_ / name;
    std::filesystem::create_directories(file.parent_path());
    std::ofstream(file, std::ios::binary) << text;
    return file;
  }

 private:
  std::filesystem::path path_;
};

}  // namespace allm::test
