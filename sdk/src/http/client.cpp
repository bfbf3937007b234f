#include "allm/http.hpp"

#include <curl/curl.h>

#include <algorithm>
#include <memory>
#include <mutex>

#include "allm/error.hpp"

namespace allm::http {

namespace {

// libcurl's global set-up (OpenSSL's with it) runs when liballm-http is loaded:
// on the loading thread, before any thread that performs transfers exists
// (curl_global_init is not thread-safe in general), and before any process-wide
// object whose threads perform them (async_job_pool, built at the first
// generate_async) is constructed. OpenSSL registers its exit-time cleanup from
// here, and exit handlers run in reverse order of registration: so that pool's
// destructor joins its workers first — each frees its per-thread OpenSSL state
// as it ends — and only then does OpenSSL tear down. Set up lazily from a
// worker instead, OpenSSL's cleanup would run first, while the workers were
// alive (with a transfer possibly in flight), and the state of every worker
// that had used TLS (its 904-byte error queue) would never be freed.
std::once_flag g_curl_init;
void init_curl_once() {
  std::call_once(g_curl_init, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}
[[maybe_unused]] const bool g_curl_initialised_at_load = (init_curl_once(), true);

using Clock = std::chrono::steady_clock;

struct Exchange {
  CURL* easy = nullptr;
  const Request* request = nullptr;
  Response* response = nullptr;
  Clock::time_point last_byte = Clock::now();
};

std::string trim(const std::string& s) {
  size_t a = 0, b = s.size();
  while (a < b && (s[a] == ' ' || s[a] == '\t')) ++a;
  while (b > a && (s[b - 1] == ' ' || s[b - 1] == '\t' || s[b - 1] == '\r' || s[b - 1] == '\n')) --b;
  return s.substr(a, b - a);
}

size_t on_header(char* data, size_t size, size_t n, void* user) {
  auto* ex = static_cast<Exchange*>(user);
  ex->last_byte = Clock::now();
  const std::string line(data, size * n);
  if (line.rfind("HTTP/", 0) == 0) {
    ex->response->headers.clear();  // a new response (after a redirect or 100-continue)
  } else if (const size_t colon = line.find(':'); colon != std::string::npos) {
    std::string name = trim(line.substr(0, colon));
    std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    ex->response->headers[name] = trim(line.substr(colon + 1));
  }
  return size * n;
}

size_t on_body(char* data, size_t size, size_t n, void* user) {
  auto* ex = static_cast<Exchange*>(user);
  ex->last_byte = Clock::now();
  long status = 0;
  curl_easy_getinfo(ex->easy, CURLINFO_RESPONSE_CODE, &status);
  const size_t bytes = size * n;
  if (ex->request->on_body && status >= 200 && status < 300) {
    if (!ex->request->on_body(data, bytes, status)) {
      ex->response->stopped_by_sink = true;
      return 0;  // aborts the transfer
    }
  } else {
    ex->response->body.append(data, bytes);
  }
  return bytes;
}

struct SlistDeleter {
  void operator()(curl_slist* l) const { curl_slist_free_all(l); }
};

void set_options(CURL* c, const Request& request, Exchange& ex, char* errbuf, std::string& range,
                 std::unique_ptr<curl_slist, SlistDeleter>& headers) {
  curl_easy_setopt(c, CURLOPT_URL, request.url.c_str());
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_USERAGENT, request.user_agent.c_str());
  curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(c, CURLOPT_HEADERDATA, &ex);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &ex);
  curl_easy_setopt(c, CURLOPT_TCP_KEEPALIVE, 1L);
  // Proxies come from the environment (HTTPS_PROXY, NO_PROXY): curl's default.
  if (request.follow_redirects) {
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(c, CURLOPT_MAXREDIRS, 10L);
  }
  if (request.connect_timeout_s > 0) curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, request.connect_timeout_s);
  if (request.decode_content) curl_easy_setopt(c, CURLOPT_ACCEPT_ENCODING, "");
  else headers.reset(curl_slist_append(headers.release(), "Accept-Encoding: identity"));
  if (request.method == "HEAD") {
    curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
  } else if (request.method == "POST") {
    curl_easy_setopt(c, CURLOPT_POST, 1L);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, request.body.c_str());
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(request.body.size()));
  } else if (request.method != "GET") {
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, request.method.c_str());
  }
  if (request.range_from > 0) {
    range = std::to_string(request.range_from) + "-";
    curl_easy_setopt(c, CURLOPT_RANGE, range.c_str());
  }
  for (const auto& h : request.headers) headers.reset(curl_slist_append(headers.release(), h.c_str()));
  // No "Expect: 100-continue" round trip before a body.
  headers.reset(curl_slist_append(headers.release(), "Expect:"));
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers.get());
}

}  // namespace

Client::Client() {
  init_curl_once();  // a Client built by another library's static initialiser comes before ours
  easy_ = curl_easy_init();
  multi_ = curl_multi_init();
  if (!easy_ || !multi_) {
    if (easy_) curl_easy_cleanup(static_cast<CURL*>(easy_));
    if (multi_) curl_multi_cleanup(static_cast<CURLM*>(multi_));
    throw IoError("libcurl: could not create a transfer handle");
  }
}

Client::~Client() {
  curl_easy_cleanup(static_cast<CURL*>(easy_));
  curl_multi_cleanup(static_cast<CURLM*>(multi_));
}

Response Client::perform(const Request& request, const CancellationToken* cancel) {
  CURL* c = static_cast<CURL*>(easy_);
  CURLM* multi = static_cast<CURLM*>(multi_);
  curl_easy_reset(c);
  Response response;
  Exchange ex{c, &request, &response};
  char errbuf[CURL_ERROR_SIZE] = {};
  std::string range;
  std::unique_ptr<curl_slist, SlistDeleter> headers;
  set_options(c, request, ex, errbuf, range, headers);

  curl_multi_add_handle(multi, c);
  CURLcode done_code = CURLE_OK;
  bool done = false;
  const auto stall_after = std::chrono::seconds(request.stall_seconds);
  while (!done) {
    if (cancel && cancel->cancelled()) {
      response.cancelled = true;
      break;
    }
    const auto now = Clock::now();
    if (now >= request.deadline) {
      response.deadline_passed = true;
      break;
    }
    if (request.stall_seconds > 0 && now - ex.last_byte > stall_after) {
      response.stalled = true;
      break;
    }
    int running = 0;
    if (const CURLMcode mc = curl_multi_perform(multi, &running); mc != CURLM_OK) {
      response.curl_code = CURLE_FAILED_INIT;  // an internal failure, not worth a retry
      response.transport_error = std::string("libcurl: ") + curl_multi_strerror(mc);
      curl_multi_remove_handle(multi, c);
      return response;
    }
    int left = 0;
    while (CURLMsg* msg = curl_multi_info_read(multi, &left)) {
      if (msg->msg == CURLMSG_DONE) {
        done = true;
        done_code = msg->data.result;
      }
    }
    if (done || running == 0) break;
    curl_multi_poll(multi, nullptr, 0, 50, nullptr);
  }
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &response.status);
  curl_multi_remove_handle(multi, c);
  const bool stopped = response.cancelled || response.deadline_passed || response.stalled || response.stopped_by_sink;
  if (!stopped && done_code != CURLE_OK) {
    response.curl_code = static_cast<int>(done_code);
    response.transport_error = errbuf[0] ? errbuf : curl_easy_strerror(done_code);
  }
  return response;
}

std::optional<std::time_t> parse_http_date(const std::string& text) {
  const time_t when = curl_getdate(text.c_str(), nullptr);
  if (when < 0) return std::nullopt;
  return when;
}

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

}  // namespace allm::http
