#pragma once
// What every route handler can reach, and the helpers the three API adapters
// share to run a generation: submit to the scheduler, cancel when the client
// goes away, record tokens for the log and /metrics.
#include <chrono>
#include <memory>
#include <string>

#include "allm/server/server.hpp"
#include "api_error.hpp"
#include "http_exchange.hpp"
#include "json_fields.hpp"
#include "metrics.hpp"
#include "model_registry.hpp"
#include "scheduler.hpp"

namespace allm::server {

struct ServerContext {
  const ServerOptions& options;
  ModelRegistry& models;
  Scheduler& scheduler;
  Metrics& metrics;
  std::chrono::system_clock::time_point started = std::chrono::system_clock::now();
};

// Submits `job` for `exchange`: the client going away cancels it; a full
// queue throws ApiError 503 with Retry-After.
void submit_job(ServerContext& ctx, Exchange& exchange, std::shared_ptr<InferenceJob> job);

// max_tokens as asked, or the model's/config default; never beyond the
// context window (the prompt's share is checked by the provider).
void cap_max_tokens(GenerationParams& params, const ServedModel& model);

// Rejects (400) sampling values out of their ranges, naming the field.
void validate_params(const GenerationParams& params);

// The JSON body of a POST; errors are ApiError 400.
json request_json(const ServerContext& ctx, const Exchange& exchange);

// "chatcmpl-..." style ids: `prefix` + 24 random hex digits.
std::string random_id(const std::string& prefix);
int64_t unix_time();
// RFC 3339 UTC with nanoseconds, as Ollama writes times.
std::string rfc3339(std::chrono::system_clock::time_point t);

}  // namespace allm::server
