#pragma once
// Writing safetensors files (logits dumps, generated test checkpoints).
#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "allm/tensor.hpp"

namespace allm {

struct TensorToWrite {
  std::string name;
  DType dtype = DType::F32;  // a plain dtype (F32, F16, BF16, I32, U32, ...)
  std::vector<int64_t> shape;
  const void* data = nullptr;  // numel * dtype_size bytes
};

// Writes `tensors` in order (IoError naming the file on failure).
void write_safetensors(const std::filesystem::path& path, const std::vector<TensorToWrite>& tensors,
                       const std::map<std::string, std::string>& metadata = {});

}  // namespace allm
