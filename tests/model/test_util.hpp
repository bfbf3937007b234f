#pragma once
// Helpers for the model tests: fixture paths, scratch directories, and a
// small safetensors writer for building valid and corrupt files.
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "../common/temp_dir.hpp"  // TempDir

namespace allm::test {

inline std::filesystem::path models_dir() { return std::filesystem::path(ALLM_TEST_DATA_DIR) / "models"; }
inline std::filesystem::path fixture(const std::string& name) { return models_dir() / name; }

inline void write_file(const std::filesystem::path& p, const std::string& bytes) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

inline std::string read_file(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

inline std::string u64_le(uint64_t v) {
  std::string s(8, '\0');
  for (int i = 0; i < 8; ++i) s[i] = static_cast<char>((v >> (8 * i)) & 0xff);
  return s;
}

// A safetensors file from a header JSON text and a data region.
inline std::string safetensors_bytes(const std::string& header, const std::string& data) {
  return u64_le(header.size()) + header + data;
}

struct TensorSpec {
  std::string name, dtype;
  std::vector<int64_t> shape;
  size_t elem_size;
};

// A valid file: tensors laid out in order, filled with a byte pattern.
inline std::string make_safetensors(const std::vector<TensorSpec>& specs) {
  nlohmann::json h = nlohmann::json::object();
  std::string data;
  for (const auto& s : specs) {
    size_t n = s.elem_size;
    for (auto d : s.shape) n *= static_cast<size_t>(d);
    h[s.name] = {{"dtype", s.dtype}, {"shape", s.shape}, {"data_offsets", {data.size(), data.size() + n}}};
    for (size_t i = 0; i < n; ++i) data.push_back(static_cast<char>(i * 7 + 3));
  }
  return safetensors_bytes(h.dump(), data);
}

// Copies a fixture checkpoint into `dst` (created) so a test can corrupt it.
inline void copy_fixture(const std::string& name, const std::filesystem::path& dst) {
  std::filesystem::create_directories(dst);
  for (const auto& e : std::filesystem::directory_iterator(fixture(name)))
    std::filesystem::copy_file(e.path(), dst / e.path().filename(), std::filesystem::copy_options::overwrite_existing);
  std::filesystem::permissions(dst, std::filesystem::perms::owner_all, std::filesystem::perm_options::add);
  for (const auto& e : std::filesystem::directory_iterator(dst))
    std::filesystem::permissions(e.path(), std::filesystem::perms::owner_write, std::filesystem::perm_options::add);
}

inline nlohmann::json read_json(const std::filesystem::path& p) { return nlohmann::json::parse(read_file(p)); }
inline void write_json(const std::filesystem::path& p, const nlohmann::json& j) { write_file(p, j.dump(1)); }

// Runs `fn`, expects it to throw E, returns the message.
template <typename E, typename Fn>
std::string error_message(Fn&& fn) {
  try {
    fn();
  } catch (const E& e) {
    return e.what();
  } catch (const std::exception& e) {
    ADD_FAILURE() << "threw the wrong error type: " << e.what();
    return "";
  }
  ADD_FAILURE() << "did not throw";
  return "";
}

}  // namespace allm::test
