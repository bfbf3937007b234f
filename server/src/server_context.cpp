#include "server_context.hpp"

#include <cmath>
#include <ctime>
#include <random>

namespace allm::server {

void submit_job(ServerContext& ctx, Exchange& exchange, std::shared_ptr<InferenceJob> job) {
  exchange.note_model(job->request.model->id);
  CancellationToken cancel = job->cancel;
  if (!ctx.scheduler.submit(job)) {
    ApiError e(503, "overloaded",
               "the server is busy: the queue for model '" + job->request.model->id + "' is full; retry later");
    e.retry_after_s = 1;
    throw e;
  }
  exchange.on_client_gone([cancel] { cancel.cancel(); });
}

void cap_max_tokens(GenerationParams& params, const ServedModel& model) {
  const int64_t ctx = model.context_length();
  if (ctx > 0 && params.max_tokens && *params.max_tokens > ctx) params.max_tokens = static_cast<int>(ctx);
}

void validate_params(const GenerationParams& params) {
  auto range = [](const char* name, const std::optional<double>& v, double lo, double hi) {
    if (v && (!std::isfinite(*v) || *v < lo || *v > hi))
      throw bad_request("'" + std::string(name) + "' must be between " + std::to_string(lo).substr(0, 4) + " and " +
                            std::to_string(hi).substr(0, 4) + ", got " + std::to_string(*v),
                        name);
  };
  range("temperature", params.temperature, 0, 2);
  range("top_p", params.top_p, 0, 1);
  range("min_p", params.min_p, 0, 1);
  range("presence_penalty", params.presence_penalty, -2, 2);
  range("frequency_penalty", params.frequency_penalty, -2, 2);
  if (params.repetition_penalty && (!std::isfinite(*params.repetition_penalty) || *params.repetition_penalty <= 0))
    throw bad_request("'repeat_penalty' must be positive", "repeat_penalty");
  if (params.top_k && *params.top_k < 0) throw bad_request("'top_k' must be >= 0", "top_k");
  try {
    params.validate("request");
  } catch (const std::exception& e) {
    throw bad_request(e.what());
  }
}

json request_json(const ServerContext& ctx, const Exchange& exchange) {
  return parse_body(exchange.request().body, ctx.options.max_json_depth);
}

std::string random_id(const std::string& prefix) {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  static const char* hex = "0123456789abcdef";
  std::string id = prefix;
  for (int i = 0; i < 24; ++i) id += hex[rng() & 15];
  return id;
}

int64_t unix_time() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

std::string rfc3339(std::chrono::system_clock::time_point t) {
  const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
  const std::time_t secs = static_cast<std::time_t>(ns / 1000000000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  char out[96];
  std::snprintf(out, sizeof out, "%s.%09lldZ", buf, static_cast<long long>(ns % 1000000000));
  return out;
}

}  // namespace allm::server
