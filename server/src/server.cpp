// run_server: loads the models, wires HTTP -> router -> API adapters ->
// scheduler, writes the access log, and drains on SIGTERM.
#include <csignal>
#include <iostream>

#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>

#include "allm/error.hpp"
#include "allm/log.hpp"
#include "allm/server/server.hpp"
#include "http_server.hpp"
#include "routes.hpp"

namespace allm::server {

namespace asio = boost::asio;

void send_json(Exchange& ex, int status, const json& body) {
  ex.respond(status, "application/json", body.dump(-1, ' ', false, json::error_handler_t::replace));
}

void send_error(Exchange& ex, ApiFlavor flavor, const ApiError& e) {
  Headers h;
  if (e.retry_after_s > 0) h.emplace_back("Retry-After", std::to_string(e.retry_after_s));
  if (e.status == 401 && flavor == ApiFlavor::openai) h.emplace_back("WWW-Authenticate", "Bearer");
  ex.respond(e.status, "application/json", error_body(flavor, e), std::move(h));
}

namespace {

// Compares without an early exit, so the time taken says nothing of where
// the first difference is.
bool same_secret(const std::string& given, const std::string& expected) {
  unsigned char diff = given.size() == expected.size() ? 0 : 1;
  const size_t n = expected.size();
  for (size_t i = 0; i < n; ++i) {
    const unsigned char g = i < given.size() ? static_cast<unsigned char>(given[i]) : 0;
    diff |= static_cast<unsigned char>(g ^ static_cast<unsigned char>(expected[i]));
  }
  return diff == 0;
}

std::string presented_key(const HttpRequest& r) {
  const std::string auth = r.header("authorization");
  if (auth.size() > 7 && (auth.compare(0, 7, "Bearer ") == 0 || auth.compare(0, 7, "bearer ") == 0))
    return auth.substr(7);
  return r.header("x-api-key");
}

class Router {
 public:
  explicit Router(ServerContext& ctx) : ctx_(ctx) {}

  void handle(const std::shared_ptr<Exchange>& ex) {
    const HttpRequest& r = ex->request();
    const ApiFlavor flavor = flavor_of_path(r.path);
    try {
      if (!apply_cors(*ex)) return;  // a preflight, answered
      if (webui_route(ctx_, ex)) return;  // static files only: the page asks for the key itself
      if (ctx_.options.api_key.size() && r.path != "/health" && !same_secret(presented_key(r), ctx_.options.api_key))
        throw ApiError(401, "authentication",
                       "missing or wrong API key (send 'Authorization: Bearer KEY' or 'x-api-key: KEY')");
      if (openai_route(ctx_, ex) || anthropic_route(ctx_, ex) || ollama_route(ctx_, ex) || embedding_route(ctx_, ex) ||
          utility_route(ctx_, ex))
        return;
      if (r.method == "GET" && (r.path == "/" || r.path == "/api")) {  // Ollama clients probe "/"
        ex->note_route("/");
        ex->respond(200, "text/plain", "allm is running");
        return;
      }
      ex->note_route("unknown");
      throw ApiError(404, "not_found", "no route " + r.method + " " + r.path);
    } catch (...) {
      const ApiError e = to_api_error(std::current_exception());
      if (e.status >= 500) log().error("{} {}: {}", r.method, r.path, e.message);
      send_error(*ex, flavor, e);
    }
  }

 private:
  // Adds CORS headers for an allowed Origin; answers preflights. False when answered.
  bool apply_cors(Exchange& ex) {
    const HttpRequest& r = ex.request();
    const std::string origin = r.header("origin");
    const auto& allowed = ctx_.options.cors_origins;
    if (origin.empty() || allowed.empty()) return true;
    bool ok = false;
    for (auto& a : allowed) ok |= a == "*" || a == origin;
    if (!ok) return true;
    ex.add_header("Access-Control-Allow-Origin", origin);
    ex.add_header("Vary", "Origin");
    if (r.method == "OPTIONS") {
      ex.note_route("preflight");
      const std::string req_headers = r.header("access-control-request-headers");
      ex.add_header("Access-Control-Allow-Methods", "GET, POST, DELETE, OPTIONS");
      ex.add_header("Access-Control-Allow-Headers",
                    req_headers.empty() ? "authorization, content-type, x-api-key, anthropic-version" : req_headers);
      ex.add_header("Access-Control-Max-Age", "600");
      ex.respond(204, "text/plain", "");
      return false;
    }
    return true;
  }

  ServerContext& ctx_;
};

void access_log(const ServerOptions& o, Metrics& metrics, const Exchange& ex) {
  const ExchangeRecord rec = ex.record();
  const double ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - ex.started()).count();
  metrics.record(rec, ms);
  if (o.log_format == "off") return;
  const HttpRequest& r = ex.request();
  if (o.log_format == "json") {
    json line = {{"time", rfc3339(std::chrono::system_clock::now())},
                 {"method", r.method},
                 {"path", r.path},
                 {"route", rec.route},
                 {"status", rec.status},
                 {"model", rec.model},
                 {"prompt_tokens", rec.prompt_tokens},
                 {"completion_tokens", rec.completion_tokens},
                 {"cached_tokens", rec.cached_tokens},
                 {"ttft_ms", rec.ttft_ms < 0 ? json(nullptr) : json(rec.ttft_ms)},
                 {"duration_ms", ms},
                 {"client_gone", ex.client_gone()}};
    std::cerr << line.dump(-1, ' ', false, json::error_handler_t::replace) + "\n" << std::flush;
    return;
  }
  char buf[160];
  std::snprintf(buf, sizeof buf, " %d %.1f ms", rec.status, ms);
  std::string line = "allm serve: " + r.method + " " + r.path + buf;
  if (!rec.model.empty())
    line += " model=" + rec.model + " prompt=" + std::to_string(rec.prompt_tokens) +
            " completion=" + std::to_string(rec.completion_tokens);
  if (ex.client_gone()) line += " (client gone)";
  std::cerr << line + "\n" << std::flush;
}

}  // namespace

int run_server(const ServerOptions& options, const ProviderMaker& make_provider) {
  if (options.models.empty()) throw InvalidArgumentError("allm serve needs at least one model");
  if (options.parallel < 1 || options.parallel > 256)
    throw InvalidArgumentError("--parallel must be between 1 and 256, got " + std::to_string(options.parallel));
  if (options.log_format != "text" && options.log_format != "json" && options.log_format != "off")
    throw InvalidArgumentError("--log-format must be text, json or off, got '" + options.log_format + "'");

  ModelRegistry models(make_provider, options.allow_any_model_path,
                       std::max(options.max_loaded_models, options.models.size() + 1),
                       static_cast<size_t>(options.parallel));
  for (auto& spec : options.models) models.load_pinned(spec);
  auto scheduler = make_slot_scheduler(options.queue_size);
  Metrics metrics;
  ServerContext ctx{options, models, *scheduler, metrics};
  Router router(ctx);

  asio::io_context io(1);
  HttpLimits limits;
  limits.max_body_bytes = options.max_body_bytes;
  limits.max_header_bytes = options.max_header_bytes;
  limits.header_timeout_s = options.header_timeout_s;
  limits.body_timeout_s = options.body_timeout_s;
  limits.write_timeout_s = options.write_timeout_s;
  limits.max_connections = options.max_connections;
  int exit_code = 0;
  {
    HttpServer http(
        io, limits, [&](std::shared_ptr<Exchange> ex) { router.handle(ex); },
        [&](const Exchange& ex) { access_log(options, metrics, ex); }, "allm/" + options.version);
    const auto endpoint = http.listen(options.host, options.port);

    asio::signal_set signals(io, SIGTERM, SIGINT);
    asio::steady_timer drain_timer(io);
    signals.async_wait([&](const boost::system::error_code& ec, int sig) {
      if (ec) return;
      std::cerr << "allm serve: " << (sig == SIGTERM ? "SIGTERM" : "SIGINT") << ", finishing " << http.in_flight()
                << " request(s)\n" << std::flush;
      http.drain([&] { io.stop(); });
      drain_timer.expires_after(std::chrono::milliseconds(static_cast<int64_t>(options.drain_timeout_s * 1000)));
      drain_timer.async_wait([&](const boost::system::error_code& e) {
        if (e) return;
        std::cerr << "allm serve: drain timeout, cancelling what is left\n" << std::flush;
        scheduler->cancel_all();
        exit_code = 1;
        drain_timer.expires_after(std::chrono::seconds(2));
        drain_timer.async_wait([&](const boost::system::error_code&) { io.stop(); });
      });
    });

    std::string host = endpoint.address().to_string();
    if (endpoint.address().is_v6()) host = "[" + host + "]";
    std::cerr << "allm serve: listening on http://" << host << ":" << endpoint.port() << "\n" << std::flush;
    io.run();
    // Generations first (their answers still reach live connections), then
    // the handlers, then the HTTP side.
    // Further SIGTERMs during the teardown must not kill the process with a
    // signal status once the signal_set (which catches them) is gone.
    std::signal(SIGTERM, SIG_IGN);
    std::signal(SIGINT, SIG_IGN);
    scheduler->shutdown();
    http.join_handlers();
  }
  std::cerr << "allm serve: stopped\n" << std::flush;
  return exit_code;
}

}  // namespace allm::server
