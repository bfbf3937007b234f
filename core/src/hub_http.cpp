// HttpClient over liballm-http. A stall (no byte received for stall_seconds)
// aborts the transfer and is reported as TransportError::stalled, so the
// caller retries with a Range request instead of hanging at 99%.
#include "hub_http.hpp"

#include <algorithm>

namespace allm::hub {

namespace {
// libcurl's codes for the two ways the hub stops a transfer itself (curl.h's
// CURLE_WRITE_ERROR and CURLE_OPERATION_TIMEDOUT), kept in TransportError.
constexpr int kCurlWriteError = 23;
constexpr int kCurlTimedOut = 28;
}  // namespace

HttpClient::HttpClient(std::optional<std::string> token, std::string token_host, int stall_seconds)
    : token_(std::move(token)), token_host_(std::move(token_host)), stall_seconds_(std::max(1, stall_seconds)) {}

HttpClient::~HttpClient() = default;

std::optional<HttpResponse> HttpClient::perform(const Request& request, TransportError& error) {
  http::Request r;
  r.method = request.head ? "HEAD" : "GET";
  r.url = request.url;
  r.user_agent = "allm-pull/1 (huggingface_hub-compatible)";
  r.follow_redirects = request.follow_redirects;
  r.range_from = request.range_from;
  r.decode_content = false;  // sizes and hashes are of the raw bytes
  r.connect_timeout_s = 20;
  r.stall_seconds = stall_seconds_;
  // The token goes to the hub only, never to a CDN a redirect points at (curl
  // drops custom Authorization headers when a redirect changes host).
  if (token_ && url_origin(request.url) == token_host_) r.headers.push_back("Authorization: Bearer " + *token_);
  if (request.sink) r.on_body = request.sink;
  http::Response got = client_.perform(r);
  if (got.stalled || got.stopped_by_sink || got.curl_code != 0) {
    error.stalled = got.stalled;
    error.curl_code = got.stalled ? kCurlTimedOut : got.stopped_by_sink ? kCurlWriteError : got.curl_code;
    error.message = got.stalled          ? "no data for " + std::to_string(stall_seconds_) + " s (stalled)"
                    : got.stopped_by_sink ? std::string("aborted")
                                          : got.transport_error;
    return std::nullopt;
  }
  HttpResponse response;
  response.status = got.status;
  response.headers = std::move(got.headers);
  response.body = std::move(got.body);
  response.url = request.url;
  return response;
}

}  // namespace allm::hub
