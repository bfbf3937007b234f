#pragma once
// The hub client's HTTP: allm::http::Client (liballm-http, the one libcurl
// client) with the hub's rules — the token only to the hub's own host, raw
// bytes (no content decoding), redirects followed, a stall limit.
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>

#include "allm/http.hpp"

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
  http::Client client_;
  std::optional<std::string> token_;
  std::string token_host_;
  int stall_seconds_;
};

using http::url_encode;
using http::url_origin;

}  // namespace allm::hub
