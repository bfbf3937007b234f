#include "http_call.hpp"

#include "allm/http.hpp"

namespace allm::remote {

HttpResult http_perform(const HttpRequest& request, const CancellationToken& cancel) {
  http::Request r;
  r.method = request.method;
  r.url = request.url;
  r.headers = request.headers;
  r.body = request.body;
  r.deadline = request.deadline;
  if (request.on_body) r.on_body = [&](const char* data, size_t size, long) { return request.on_body(data, size); };
  http::Response got = http::Client().perform(r, &cancel);
  HttpResult result;
  result.status = got.status;
  result.headers = std::move(got.headers);
  result.body = std::move(got.body);
  result.cancelled = got.cancelled || got.stopped_by_sink;
  result.deadline_passed = got.deadline_passed;
  result.curl_code = got.curl_code;
  result.transport_error = std::move(got.transport_error);
  return result;
}

}  // namespace allm::remote
