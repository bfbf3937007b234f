// libFuzzer entry: JSON text -> GenerateRequest -> JSON -> GenerateRequest.
#include <cstddef>
#include <cstdint>
#include <string>

#include "allm/error.hpp"
#include "allm/provider.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
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
