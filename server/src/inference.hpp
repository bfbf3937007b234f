#pragma once
// The one internal request type every API adapter produces, and the job the
// scheduler runs for it. Adapters translate their JSON into an
// InferenceRequest and the job's callbacks back into their wire format.
#include "allm/media.hpp"
#include "image_inputs.hpp"
#include <atomic>
#include <chrono>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "allm/provider.hpp"

namespace allm::server {

// One sequence slot of a model: two providers over the same loaded weights
// (one renders the chat template, one completes plain text), each keeping
// the KV cache of its last prompt (the prompt cache).
struct ModelSlot {
  std::shared_ptr<Provider> chat, raw;
};

// A model the server can run, with --parallel slots that generate at the same
// time (the provider batches their forward steps together).
struct ServedModel {
  std::string id;    // the name clients use (/v1/models, /api/tags)
  std::string spec;  // what was resolved: a path or a Hugging Face repo id
  std::vector<ModelSlot> slots;
  std::shared_ptr<Provider> chat, raw;  // slots[0]'s: prompt inspection
  Capabilities caps;  // of `chat`, taken at load
  bool pinned = false;  // named on the command line: never evicted
  std::chrono::system_clock::time_point loaded_at = std::chrono::system_clock::now();
  std::atomic<int64_t> last_used_ms{0};  // steady clock, for LRU
  std::atomic<int> in_use{0};            // jobs holding it
  // The provider's batching counters, copied by the slot threads after each
  // generation (reading them from another thread would race with it).
  std::atomic<uint64_t> batched_calls{0}, batched_sequences{0};
  // KV memory as the slots last reported it (after each generation): the
  // pool shared by the slots (prompt cache on) or each slot's own pool.
  struct KvUse {
    uint64_t shared_pool = 0;
    std::vector<uint64_t> slot_pools;  // per slot, when not shared
    uint64_t snapshot_bytes = 0, snapshots = 0;  // the prompt cache's
  };
  mutable std::mutex kv_mutex;
  KvUse kv;
  uint64_t kv_bytes() const {
    std::lock_guard lock(kv_mutex);
    uint64_t b = kv.shared_pool;
    for (uint64_t s : kv.slot_pools) b += s;
    return b;
  }

  int64_t context_length() const { return caps.max_context; }
};

struct InferenceRequest {
  std::shared_ptr<ServedModel> model;
  std::shared_ptr<ImageInputs> images;  // the request's images, as the files its messages attach
  bool raw = false;          // plain completion (no chat template)
  GenerateRequest generate;  // messages or prompt, parameters, tools
};

struct InferenceResult {
  GenerateResponse response;
  int64_t cached_tokens = 0;  // prompt tokens served from the KV cache
  std::string stop_sequence;  // the stop string that ended it, if one did
};

// Callbacks run on the scheduler's thread, in order: on_start once, on_delta
// any number of times, then exactly one of on_done / on_error.
struct InferenceJob {
  InferenceRequest request;
  CancellationToken cancel;
  std::function<void()> on_start;
  std::function<void(const StreamDelta&)> on_delta;
  std::function<void(const InferenceResult&)> on_done;
  std::function<void(std::exception_ptr)> on_error;
};

}  // namespace allm::server
