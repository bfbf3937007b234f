// libcurl behind HttpClient. A stall (no byte received for stall_seconds,
// watched in curl's progress callback) aborts the transfer and is reported as
// TransportError::stalled, so the caller retries with a Range request instead
// of hanging at 99%.
#include "hub_http.hpp"

#include <curl/curl.h>

#include <algorithm>
#include <chrono>
#include <mutex>

#include "allm/error.hpp"

namespace allm::hub {

namespace {

std::once_flag g_curl_init;

struct Transfer {
  CURL* curl;
  HttpResponse* response;
  const HttpClient::Sink* sink;
  bool aborted_by_sink = false;
  std::chrono::steady_clock::duration stall_after;
  std::chrono::steady_clock::time_point last_byte = std::chrono::steady_clock::now();
  curl_off_t last_now = 0;
  bool stalled = false;
};

int on_progress(void* user, curl_off_t, curl_off_t dlnow, curl_off_t, curl_off_t) {
  auto* t = static_cast<Transfer*>(user);
  const auto now = std::chrono::steady_clock::now();
  if (dlnow != t->last_now) {
    t->last_now = dlnow;
    t->last_byte = now;
  } else if (now - t->last_byte > t->stall_after) {
    t->stalled = true;
    return 1;  // abort: CURLE_ABORTED_BY_CALLBACK
  }
  return 0;
}

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

std::string trim(const std::string& s) {
  size_t a = 0, b = s.size();
  while (a < b && (s[a] == ' ' || s[a] == '\t')) ++a;
  while (b > a && (s[b - 1] == ' ' || s[b - 1] == '\t' || s[b - 1] == '\r' || s[b - 1] == '\n')) --b;
  return s.substr(a, b - a);
}

size_t on_header(char* data, size_t size, size_t n, void* user) {
  auto* t = static_cast<Transfer*>(user);
  const std::string line(data, size * n);
  if (line.rfind("HTTP/", 0) == 0) {
    t->response->headers.clear();  // a new response (after a redirect or 100-continue)
  } else if (const size_t colon = line.find(':'); colon != std::string::npos) {
    t->response->headers[lower(trim(line.substr(0, colon)))] = trim(line.substr(colon + 1));
  }
  return size * n;
}

size_t on_body(char* data, size_t size, size_t n, void* user) {
  auto* t = static_cast<Transfer*>(user);
  long status = 0;
  curl_easy_getinfo(t->curl, CURLINFO_RESPONSE_CODE, &status);
  const size_t bytes = size * n;
  // Only a 2xx body goes to the sink (file bytes); an error body stays in memory.
  if (t->sink && *t->sink && status >= 200 && status < 300) {
    if (!(*t->sink)(data, bytes, status)) {
      t->aborted_by_sink = true;
      return 0;
    }
  } else {
    t->response->body.append(data, bytes);
  }
  return bytes;
}

}  // namespace

std::string url_origin(const std::string& url) {
  const size_t scheme = url.find("://");
  if (scheme == std::string::npos) return "";
  const size_t path = url.find('/', scheme + 3);
  return url.substr(0, path);
}

std::string url_encode(const std::string& s, bool keep_slash) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    const bool unreserved = std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~';
    if (unreserved || (keep_slash && c == '/')) {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

HttpClient::HttpClient(std::optional<std::string> token, std::string token_host, int stall_seconds)
    : token_(std::move(token)), token_host_(std::move(token_host)), stall_seconds_(stall_seconds) {
  std::call_once(g_curl_init, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  curl_ = curl_easy_init();
  if (!curl_) throw IoError("libcurl: curl_easy_init failed");
}

HttpClient::~HttpClient() { curl_easy_cleanup(static_cast<CURL*>(curl_)); }

std::optional<HttpResponse> HttpClient::perform(const Request& request, TransportError& error) {
  CURL* c = static_cast<CURL*>(curl_);
  curl_easy_reset(c);
  HttpResponse response;
  response.url = request.url;
  Transfer transfer{c, &response, &request.sink, false, std::chrono::seconds(std::max(1, stall_seconds_))};
  char errbuf[CURL_ERROR_SIZE] = {};
  curl_easy_setopt(c, CURLOPT_URL, request.url.c_str());
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_USERAGENT, "allm-pull/1 (huggingface_hub-compatible)");
  curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, request.follow_redirects ? 1L : 0L);
  curl_easy_setopt(c, CURLOPT_MAXREDIRS, 10L);
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 20L);
  curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
  curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
  curl_easy_setopt(c, CURLOPT_XFERINFODATA, &transfer);
  curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(c, CURLOPT_HEADERDATA, &transfer);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &transfer);
  if (request.head) curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
  std::string range;
  if (request.range_from > 0) {
    range = std::to_string(request.range_from) + "-";
    curl_easy_setopt(c, CURLOPT_RANGE, range.c_str());
  }
  curl_slist* headers = nullptr;
  headers = curl_slist_append(headers, "Accept-Encoding: identity");  // sizes and hashes are of the raw bytes
  std::string auth;
  // The token goes to the hub only, never to a CDN a redirect points at (curl
  // drops custom Authorization headers when a redirect changes host).
  if (token_ && url_origin(request.url) == token_host_) {
    auth = "Authorization: Bearer " + *token_;
    headers = curl_slist_append(headers, auth.c_str());
  }
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
  const CURLcode rc = curl_easy_perform(c);
  curl_slist_free_all(headers);
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &response.status);
  if (rc != CURLE_OK) {
    error.curl_code = static_cast<int>(rc);
    error.stalled = transfer.stalled;
    error.message = errbuf[0] ? errbuf : curl_easy_strerror(rc);
    if (transfer.aborted_by_sink) error.message = "aborted";
    if (transfer.stalled) error.message = "no data for " + std::to_string(std::max(1, stall_seconds_)) + " s (stalled)";
    return std::nullopt;
  }
  return response;
}

}  // namespace allm::hub
