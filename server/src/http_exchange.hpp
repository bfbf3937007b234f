#pragma once
// One HTTP request and its answer, handed from the connection (I/O thread) to
// a route handler (any thread). Every method is thread-safe: output is posted
// to the connection, which writes it in order. An answer is either whole
// (respond) or streamed (begin_stream, write..., end_stream: chunked).
#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace allm::server {

using Headers = std::vector<std::pair<std::string, std::string>>;

struct HttpRequest {
  std::string method;
  std::string target;  // as sent
  std::string path;    // target without the query
  std::string query;   // after '?', undecoded
  std::map<std::string, std::string> headers;  // names lower-cased
  std::string body;
  std::string header(const std::string& lower_name) const {
    auto it = headers.find(lower_name);
    return it == headers.end() ? std::string() : it->second;
  }
};

// What the access log and /metrics record of a finished exchange.
struct ExchangeRecord {
  std::string route;
  std::string model;
  int status = 0;
  int64_t prompt_tokens = 0, completion_tokens = 0, cached_tokens = 0;
  double ttft_ms = -1;  // time to first token (streamed or not), -1: none
};

class Connection;

class Exchange {
 public:
  // Holds the connection until the answer ends (even when the client left),
  // so every exchange is finished and counted. A null `conn` makes a detached
  // exchange (the request-parsing fuzz target): its answer is dropped, its
  // status still recorded.
  Exchange(std::shared_ptr<Connection> conn, HttpRequest request, Headers extra_headers);

  const HttpRequest& request() const { return request_; }
  // Headers added to the answer (CORS); call before answering, from the handler.
  void add_header(std::string name, std::string value) { extra_headers_.emplace_back(std::move(name), std::move(value)); }

  void respond(int status, const std::string& content_type, std::string body, Headers headers = {});
  void begin_stream(int status, const std::string& content_type, Headers headers = {});
  void write(std::string data);  // one chunk of a stream
  void end_stream();
  bool answered() const { return answered_.load(); }

  // The client went away before the answer ended (closed, reset, or stopped
  // reading past the write timeout). `f` runs once, right away if already gone.
  void on_client_gone(std::function<void()> f);
  bool client_gone() const { return gone_.load(); }
  void mark_client_gone();  // called by the connection

  // Bookkeeping for the access log and metrics.
  void note_route(std::string route);
  void note_model(std::string model);
  void note_tokens(int64_t prompt, int64_t completion, int64_t cached);
  void note_first_token();  // first generated text: time to first token
  ExchangeRecord record() const;
  std::chrono::steady_clock::time_point started() const { return started_; }

 private:
  void post(std::string bytes, bool last);

  std::shared_ptr<Connection> conn_;
  HttpRequest request_;
  Headers extra_headers_;  // CORS etc., added to every answer
  std::atomic<bool> answered_{false}, streaming_{false}, gone_{false};
  std::atomic<bool> complete_{false};  // the whole answer is queued: leaving now cancels nothing
  mutable std::mutex mutex_;
  std::function<void()> on_gone_;
  ExchangeRecord record_;
  std::chrono::steady_clock::time_point started_ = std::chrono::steady_clock::now();
};

}  // namespace allm::server
