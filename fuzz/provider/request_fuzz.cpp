// libFuzzer entry: JSON text -> GenerateRequest -> JSON -> GenerateRequest.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "allm/error.hpp"
#include "allm/json_depth.hpp"
#include "allm/provider.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // Like every reader of request text, refuse nesting first (a parsed
  // document is walked recursively by copies and dump()).
  if (!allm::json_depth_error(std::string_view(reinterpret_cast<const char*>(data), size)).empty()) return 0;
  auto j = nlohmann::json::parse(data, data + size, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return 0;
  try {
    allm::GenerateRequest r = allm::GenerateRequest::from_json(j);
    // A request that validated must survive its own JSON form unchanged.
    allm::GenerateRequest again = allm::GenerateRequest::from_json(r.to_json());
    if (again.to_json() != r.to_json()) __builtin_trap();
  } catch (const allm::InvalidArgumentError&) {
  }
  return 0;
}
