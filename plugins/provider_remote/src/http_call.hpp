#pragma once
// One HTTP exchange with a remote API through liballm-http (allm/http.hpp):
// the caller's CancellationToken and the total deadline are checked every
// 50 ms while waiting on the socket (cancel closes the connection at once).
#include <chrono>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "allm/provider.hpp"

namespace allm::remote {

struct HttpRequest {
  std::string method = "POST";
  std::string url;
  std::vector<std::string> headers;  // "Name: value"
  std::string body;
  std::chrono::steady_clock::time_point deadline;
  // Receives the body of a 2xx response as it arrives; return false to stop.
  // Unset: the body is collected in HttpResult::body.
  std::function<bool(const char*, size_t)> on_body;
};

struct HttpResult {
  long status = 0;                             // 0: no response (transport failure)
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;                            // error bodies always land here
  bool cancelled = false;
  bool deadline_passed = false;
  int curl_code = 0;           // CURLE_*; 0 when the transfer completed
  std::string transport_error; // curl's message when curl_code != 0
};

HttpResult http_perform(const HttpRequest& request, const CancellationToken& cancel);

}  // namespace allm::remote
