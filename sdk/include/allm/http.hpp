#pragma once
// liballm-http: the one libcurl client of allm — the hub client (allm pull)
// and the remote-API providers both go through it. One exchange at a time per
// Client (its connection is reused by the next), driven through libcurl's
// multi interface so a CancellationToken, a total deadline and a stall limit
// are all checked every 50 ms while waiting on the socket.
#include <chrono>
#include <cstdint>
#include <ctime>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "allm/provider.hpp"

namespace allm::http {

struct Request {
  std::string method = "GET";        // GET, POST, HEAD or any other verb
  std::string url;
  std::vector<std::string> headers;  // "Name: value"
  std::string body;                  // sent with POST (and other verbs that carry one)
  std::string user_agent = "allm";
  bool follow_redirects = false;     // up to 10
  uint64_t range_from = 0;           // > 0: "Range: bytes=N-"
  // true: ask for any encoding curl can decode (Accept-Encoding: all it
  // knows); false: "identity", the bytes as stored (sizes and hashes hold).
  bool decode_content = true;
  long connect_timeout_s = 0;        // 0: libcurl's default
  std::chrono::steady_clock::time_point deadline = std::chrono::steady_clock::time_point::max();
  int stall_seconds = 0;             // > 0: abort when no byte arrives for that long
  // Receives the body of a 2xx response as it arrives (with the status: 200
  // means a Range request was ignored); return false to stop the transfer.
  // Unset: the body is collected in Response::body. Error bodies always are.
  std::function<bool(const char* data, size_t size, long status)> on_body;
};

struct Response {
  long status = 0;                             // 0: no response (transport failure)
  std::map<std::string, std::string> headers;  // lower-case names, of the last response
  std::string body;
  bool cancelled = false;        // the CancellationToken fired
  bool deadline_passed = false;
  bool stalled = false;          // no byte for stall_seconds
  bool stopped_by_sink = false;  // on_body returned false
  int curl_code = 0;             // CURLE_*; 0 when the transfer completed (or was stopped as above)
  std::string transport_error;   // libcurl's message when curl_code != 0
};

class Client {
 public:
  Client();
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;
  // One exchange; `cancel` may be null. Throws IoError only when libcurl
  // cannot create its handles; everything else is reported in the Response.
  Response perform(const Request& request, const CancellationToken* cancel = nullptr);

 private:
  void* easy_ = nullptr;
  void* multi_ = nullptr;
};

// An HTTP date (RFC 9110: "Sun, 06 Nov 1994 08:49:37 GMT" and the obsolete
// forms) as a time_t; nullopt when it is not one.
std::optional<std::time_t> parse_http_date(const std::string& text);

// scheme://host[:port] of a URL ("" when it has none).
std::string url_origin(const std::string& url);
// Percent-encodes everything but unreserved characters (and '/' when keep_slash).
std::string url_encode(const std::string& s, bool keep_slash);

}  // namespace allm::http
