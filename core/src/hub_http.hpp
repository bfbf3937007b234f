#pragma once
// A small libcurl wrapper for the hub client: one easy handle per thread,
// headers of the final response, bodies into memory or a sink, Range resumes.
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>

namespace allm::hub {

struct HttpResponse {
  long status = 0;
  std::map<std::string, std::string> headers;  // lower-case names, of the last response
  std::string body;                            // when no sink was given
  std::string url;                             // the URL asked for
};

// A transport failure (no HTTP status): unreachable host, cut or stalled connection.
struct TransportError {
  int curl_code = 0;
  std::string message;
  bool stalled = false;
};

class HttpClient {
 public:
  // `token` is sent as "Authorization: Bearer" to `token_host` only.
  HttpClient(std::optional<std::string> token, std::string token_host, int stall_seconds);
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // Sink: receives body bytes of a 2xx response (with its status: 200 means a
  // Range request was ignored); return false to abort the transfer.
  using Sink = std::function<bool(const char* data, size_t size, long status)>;
  struct Request {
    std::string url;
    bool head = false;
    bool follow_redirects = true;
    uint64_t range_from = 0;  // > 0: "Range: bytes=N-"
    Sink sink;                // unset: the body is kept in HttpResponse::body
  };
  // Returns the response, or sets `error` and returns nullopt on a transport failure.
  std::optional<HttpResponse> perform(const Request& request, TransportError& error);

 private:
  void* curl_ = nullptr;
  std::optional<std::string> token_;
  std::string token_host_;
  int stall_seconds_;
};

// scheme://host[:port] of a URL ("" when it has none).
std::string url_origin(const std::string& url);
// Percent-encodes everything but unreserved characters (and '/' when keep_slash).
std::string url_encode(const std::string& s, bool keep_slash);

}  // namespace allm::hub
