#include "remote_provider.hpp"

#include <curl/curl.h>  // the CURLE_* codes of HttpResult::curl_code

#include <algorithm>
#include <chrono>
#include <cmath>
#include <ctime>
#include <thread>

#include "allm/error.hpp"
#include "allm/log.hpp"
#include "allm/http.hpp"
#include "http_call.hpp"

namespace allm::remote {

namespace {

using Clock = std::chrono::steady_clock;

double ms_between(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double, std::milli>(b - a).count();
}

bool retryable_status(long status) {
  return status == 408 || status == 429 || status == 500 || status == 502 || status == 503 || status == 504 ||
         status == 529;  // 529: Anthropic "overloaded"
}

// A dropped or reset connection is worth another try; a refused one or a bad
// host name is not (nothing listens there).
bool retryable_transport(int code) {
  return code == CURLE_RECV_ERROR || code == CURLE_SEND_ERROR || code == CURLE_GOT_NOTHING ||
         code == CURLE_PARTIAL_FILE || code == CURLE_OPERATION_TIMEDOUT || code == CURLE_HTTP2 ||
         code == CURLE_HTTP2_STREAM;
}

// Retry-After: delay-seconds or an HTTP date; nullopt when absent or unreadable.
std::optional<double> retry_after_s(const std::map<std::string, std::string>& headers) {
  const auto it = headers.find("retry-after");
  if (it == headers.end()) return std::nullopt;
  char* end = nullptr;
  const double s = std::strtod(it->second.c_str(), &end);
  if (end && *end == '\0' && end != it->second.c_str() && s >= 0) return s;
  const std::optional<std::time_t> when = http::parse_http_date(it->second);
  if (!when) return std::nullopt;
  return std::max(0.0, std::difftime(*when, std::time(nullptr)));
}

std::string transport_text(const HttpResult& r) {
  switch (r.curl_code) {
    case CURLE_COULDNT_CONNECT: return "connection refused";
    case CURLE_COULDNT_RESOLVE_HOST: return "unknown host";
    case CURLE_RECV_ERROR:
    case CURLE_SEND_ERROR: return "connection reset";
    case CURLE_GOT_NOTHING: return "connection closed without a response";
    case CURLE_PARTIAL_FILE: return "connection closed mid-response";
    default: return r.transport_error;
  }
}

// The typed error for an HTTP status: a wrong key is configuration, a refused
// request is the caller's, a missing model is a model error, the rest is I/O.
[[noreturn]] void throw_http_error(long status, const std::string& message) {
  if (status == 401 || status == 403) throw ConfigError(message);
  if (status == 404) throw ModelLoadError(message);
  if (status == 400 || status == 413 || status == 422) throw InvalidArgumentError(message);
  throw IoError(message);
}

}  // namespace

RemoteProvider::RemoteProvider(const ApiDialect& dialect, RemoteSettings settings, MediaLimits limits)
    : Provider(limits), dialect_(dialect), settings_(std::move(settings)) {}

Capabilities RemoteProvider::capabilities() const {
  Capabilities c;
  c.streaming = true;
  c.system_prompt = true;
  c.async = true;
  c.tool_use = true;  // tools are passed through; the endpoint's model decides
  c.vision = true;    // images are sent as the API wants; the endpoint refuses them for text-only models
  c.model = settings_.model;
  std::vector<std::string> all = {"temperature", "top_p", "top_k", "min_p", "repetition_penalty", "presence_penalty",
                                  "frequency_penalty", "seed", "max_tokens", "stop", "ignore_eos"};
  const auto supported = dialect_.supported_params();
  std::vector<std::string> unsupported;
  for (const auto& p : all)
    if (std::find(supported.begin(), supported.end(), p) == supported.end()) unsupported.push_back(p);
  c.model_info = {{"provider", settings_.provider},
                  {"base_url", settings_.base_url},
                  {"api_key", settings_.api_key.empty() ? "none" : "set (" + settings_.api_key_source + ")"},
                  {"timeout_s", settings_.timeout_s},
                  {"max_retries", settings_.max_retries},
                  {"parameters", supported},
                  {"unsupported_parameters", unsupported},
                  // Tool calls come back as data (GenerateResponse::tool_calls), not in the text.
                  {"structured_tool_calls", true}};
  if (!probed_models_.is_null()) c.model_info["models"] = probed_models_;
  return c;
}

std::vector<std::string> RemoteProvider::list_models(const CancellationToken& cancel) const {
  HttpRequest req;
  req.method = "GET";
  req.url = dialect_.models_url(settings_);
  req.headers = dialect_.auth_headers(settings_);
  req.headers.insert(req.headers.end(), settings_.headers.begin(), settings_.headers.end());
  req.deadline = Clock::now() + std::chrono::milliseconds(static_cast<int64_t>(settings_.timeout_s * 1000));
  const HttpResult r = http_perform(req, cancel);
  const std::string where = settings_.provider + ": " + req.url;
  if (r.cancelled) throw CancelledError(where + ": cancelled");
  if (r.deadline_passed) throw IoError(where + ": no answer within " + std::to_string(settings_.timeout_s) + " s");
  if (r.status == 0) throw IoError(settings_.provider + ": " + transport_text(r) + ": " + req.url);
  if (r.status < 200 || r.status >= 300)
    throw_http_error(r.status, where + ": " + std::to_string(r.status) + ": " + server_message(r.body));
  auto j = nlohmann::json::parse(r.body, nullptr, false);
  if (j.is_discarded()) throw IoError(where + ": the model list is not JSON");
  return dialect_.model_ids(j);
}

GenerateResponse RemoteProvider::do_generate(const PreparedRequest& request, const StreamCallback& on_delta,
                                             const CancellationToken& cancel) {
  const std::string model = request.model.empty() ? settings_.model : request.model;
  if (model.empty())
    throw InvalidArgumentError(settings_.provider + ": no model named (use " + settings_.provider + ":MODEL)");
  if (request.logprobs)  // never dropped silently: the reply would lack what was asked for
    throw UnsupportedError(settings_.provider + ": log-probabilities are not forwarded to remote providers");
  std::vector<std::string> unsupported;
  const nlohmann::json body = dialect_.request_body(request, model, unsupported);
  if (!unsupported.empty()) {
    std::string names;
    for (const auto& n : unsupported) names += (names.empty() ? "" : ", ") + n;
    log().warn("{}: the {} API has no {}; not sent", settings_.provider, settings_.provider, names);
  }

  HttpRequest req;
  req.url = dialect_.chat_url(settings_);
  req.headers = {"Content-Type: application/json",
                 dialect_.framing() == EventStream::Framing::sse ? "Accept: text/event-stream" : "Accept: application/x-ndjson"};
  for (auto& h : dialect_.auth_headers(settings_)) req.headers.push_back(h);
  req.headers.insert(req.headers.end(), settings_.headers.begin(), settings_.headers.end());
  req.body = body.dump();
  const auto start = Clock::now();
  req.deadline = start + std::chrono::milliseconds(static_cast<int64_t>(settings_.timeout_s * 1000));
  const std::string where = settings_.provider + ": " + req.url;

  for (int attempt = 0;; ++attempt) {
    GenerateResponse out;
    out.model = model;
    StreamState state;
    std::optional<Clock::time_point> first_delta;
    const auto attempt_start = Clock::now();
    EventStream events(dialect_.framing(), [&](const std::string& event, const std::string& data) {
      std::string text = dialect_.on_event(event, data, state);
      if (text.empty() || cancel.cancelled()) return;  // nothing goes out after a cancel
      if (!first_delta) first_delta = Clock::now();
      out.text += text;
      on_delta(StreamDelta{std::move(text), {}, {}});
    });
    std::exception_ptr event_error;
    req.on_body = [&](const char* data, size_t size) {
      try {
        events.feed(data, size);
        return !cancel.cancelled();  // false closes the connection
      } catch (...) {
        event_error = std::current_exception();
        return false;
      }
    };
    const HttpResult r = http_perform(req, cancel);
    if (event_error) std::rethrow_exception(event_error);
    const auto end = Clock::now();
    const bool emitted = first_delta.has_value();
    // A cancel seen in a delta callback counts even when the body was complete.
    if (r.cancelled || cancel.cancelled()) {
      out.finish_reason = finish_reason::cancelled;
      return out;
    }
    const std::string cut = emitted ? " (the stream was cut after " + std::to_string(out.text.size()) +
                                          " bytes of text, delivered so far)"
                                    : "";
    if (r.deadline_passed)
      throw IoError(where + ": no complete answer within the deadline of " + std::to_string(settings_.timeout_s) +
                    " s (timeout_s)" + cut);

    const bool ok_status = r.status >= 200 && r.status < 300;
    if (ok_status && r.curl_code == 0) {
      events.finish();
      if (!state.complete)
        throw IoError(where + ": the stream ended before the reply was complete" +
                      (emitted ? cut : std::string(" (no text)")));
      out.finish_reason = state.finish_reason.empty() ? finish_reason::stop : state.finish_reason;
      out.reasoning = state.reasoning;
      out.tool_calls = finished_calls(settings_.provider, state.calls, out.finish_reason == finish_reason::length);
      // Ollama ends a reply of calls with "stop"; every API's such reply reads the same.
      if (!out.tool_calls.empty() && out.finish_reason == finish_reason::stop) out.finish_reason = finish_reason::tool_calls;
      out.usage = state.usage;
      const double total_ms = ms_between(attempt_start, end);
      const double prompt_ms = first_delta ? ms_between(attempt_start, *first_delta) : total_ms;
      out.timings.prompt_ms = state.server_prompt_ms > 0 ? state.server_prompt_ms : prompt_ms;
      out.timings.decode_ms = state.server_decode_ms > 0 ? state.server_decode_ms : total_ms - prompt_ms;
      out.timings.load_ms = state.server_load_ms;
      if (out.timings.prompt_ms > 0)
        out.timings.prefill_tokens_per_s = out.usage.prompt_tokens * 1000.0 / out.timings.prompt_ms;
      if (out.timings.decode_ms > 0 && out.usage.completion_tokens > 1)
        out.timings.decode_tokens_per_s = (out.usage.completion_tokens - 1) * 1000.0 / out.timings.decode_ms;
      return out;
    }

    // A failure. Once text went out, a retry would repeat it: report instead.
    std::string message;
    bool retry = false;
    if (r.status == 0 || ok_status) {
      message = settings_.provider + ": " + transport_text(r) + ": " + req.url + cut;
      retry = !emitted && retryable_transport(r.curl_code);
    } else {
      message = where + ": " + std::to_string(r.status) + ": " + server_message(r.body);
      retry = retryable_status(r.status);
    }
    if (!retry || attempt >= settings_.max_retries) {
      if (attempt > 0) message += " (after " + std::to_string(attempt + 1) + " attempts)";
      if (r.status == 0 || ok_status) throw IoError(message);
      throw_http_error(r.status, message);
    }
    double wait_s = std::min(30.0, 0.5 * std::pow(2.0, attempt));
    if (auto ra = retry_after_s(r.headers)) wait_s = *ra;
    const auto resume = Clock::now() + std::chrono::milliseconds(static_cast<int64_t>(wait_s * 1000));
    if (resume >= req.deadline)
      throw IoError(message + " (a retry in " + std::to_string(wait_s) + " s would pass the deadline of " +
                    std::to_string(settings_.timeout_s) + " s)");
    log().info("{}; retrying in {:.1f} s", message, wait_s);
    while (Clock::now() < resume) {
      if (cancel.cancelled()) {
        GenerateResponse c;
        c.model = model;
        c.finish_reason = finish_reason::cancelled;
        return c;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }
}

std::shared_ptr<Provider> RemoteProviderFactory::create(const nlohmann::json& options) const {
  const ApiDialect& d = dialect_();
  RemoteSettings s = resolve_settings(d.defaults(), options);
  MediaLimits limits;
  if (options.contains("config") && options["config"].is_object()) limits = MediaLimits::from_config(options["config"]);
  auto p = std::make_shared<RemoteProvider>(d, std::move(s), limits);
  if (options.value("probe", false)) {
    auto ids = p->list_models();
    p->probed_models_ = ids;
  }
  return p;
}

std::string RemoteProviderFactory::description() const {
  const auto d = dialect_().defaults();
  return "Remote " + d.name + " API (" + d.base_url + ", $" + d.base_url_env + ")";
}

}  // namespace allm::remote
