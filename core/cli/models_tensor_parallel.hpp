#pragma once
// allm models show MODEL --tensor-parallel N: what each of N devices would
// hold under the tensor-parallel plan (allm/tensor_parallel.hpp), so an
// operator can tell whether a model fits on N GPUs. A plan only: allm does not
// run a model over several GPUs yet (docs/multi-gpu.md).
#include <cstdint>
#include <optional>
#include <ostream>

#include <nlohmann/json.hpp>

#include "allm/checkpoint.hpp"
#include "allm/kv_format.hpp"

namespace allm::cli {

// {"ranks": N, "kv_type", "context_length", "device_memory_bytes"?, "per_rank": [{rank, q_heads, kv_heads,
// experts?, vocab, weight_bytes, kv_bytes_per_position, kv_cache_bytes, required_bytes, fits?}],
// "collectives": {...}}. InvalidArgumentError naming the model when it cannot be divided over N.
nlohmann::json tensor_parallel_report(const Checkpoint& checkpoint, const std::string& model, int ranks,
                                      int64_t context, KVType kv_type, std::optional<uint64_t> device_memory);
void print_tensor_parallel(const nlohmann::json& report, std::ostream& out);

}  // namespace allm::cli
