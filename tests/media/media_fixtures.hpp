#pragma once
// Shared helpers for the media tests.
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "allm/media.hpp"

namespace media_test {

inline std::filesystem::path data(const std::string& name) {
  return std::filesystem::path(ALLM_TEST_DATA_DIR) / "media" / name;
}

inline std::vector<uint8_t> read_all(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(in), {});
}

// Runs one handler's score + load on a fixture, as load_attachment would.
template <class Handler>
allm::MediaContent load_with(const Handler& h, const std::string& name) {
  auto bytes = read_all(data(name));
  return h.load(data(name), bytes);
}

}  // namespace media_test
