#include "http_call.hpp"

#include <curl/curl.h>

#include <algorithm>
#include <memory>
#include <mutex>

#include "allm/error.hpp"

namespace allm::remote {

namespace {

std::once_flag g_curl_init;

struct Exchange {
  CURL* easy = nullptr;
  const HttpRequest* request = nullptr;
  HttpResult* result = nullptr;
  bool stopped_by_sink = false;
};

std::string lower_trimmed(std::string s) {
  while (!s.empty() && (s.back() == ' ' || s.back() == '\r' || s.back() == '\n' || s.back() == '\t')) s.pop_back();
  size_t a = 0;
  while (a < s.size() && (s[a] == ' ' || s[a] == '\t')) ++a;
  return s.substr(a);
}

size_t on_header(char* data, size_t size, size_t n, void* user) {
  auto* ex = static_cast<Exchange*>(user);
  const std::string line(data, size * n);
  if (line.rfind("HTTP/", 0) == 0) {
    ex->result->headers.clear();
  } else if (const size_t colon = line.find(':'); colon != std::string::npos) {
    std::string name = line.substr(0, colon);
    std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    ex->result->headers[name] = lower_trimmed(line.substr(colon + 1));
  }
  return size * n;
}

size_t on_body(char* data, size_t size, size_t n, void* user) {
  auto* ex = static_cast<Exchange*>(user);
  long status = 0;
  curl_easy_getinfo(ex->easy, CURLINFO_RESPONSE_CODE, &status);
  const size_t bytes = size * n;
  if (ex->request->on_body && status >= 200 && status < 300) {
    if (!ex->request->on_body(data, bytes)) {
      ex->stopped_by_sink = true;
      return 0;  // aborts the transfer
    }
  } else {
    ex->result->body.append(data, bytes);
  }
  return bytes;
}

struct EasyDeleter {
  void operator()(CURL* c) const { curl_easy_cleanup(c); }
};
struct MultiDeleter {
  void operator()(CURLM* m) const { curl_multi_cleanup(m); }
};
struct SlistDeleter {
  void operator()(curl_slist* l) const { curl_slist_free_all(l); }
};

}  // namespace

HttpResult http_perform(const HttpRequest& request, const CancellationToken& cancel) {
  std::call_once(g_curl_init, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  std::unique_ptr<CURL, EasyDeleter> easy(curl_easy_init());
  std::unique_ptr<CURLM, MultiDeleter> multi(curl_multi_init());
  if (!easy || !multi) throw IoError("libcurl: could not create a transfer handle");
  HttpResult result;
  Exchange ex{easy.get(), &request, &result};
  char errbuf[CURL_ERROR_SIZE] = {};
  CURL* c = easy.get();
  curl_easy_setopt(c, CURLOPT_URL, request.url.c_str());
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_USERAGENT, "allm");
  curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(c, CURLOPT_HEADERDATA, &ex);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &ex);
  curl_easy_setopt(c, CURLOPT_ACCEPT_ENCODING, "");  // whatever curl can decode
  curl_easy_setopt(c, CURLOPT_TCP_KEEPALIVE, 1L);
  // Proxies come from the environment (HTTPS_PROXY, NO_PROXY): curl's default.
  if (request.method == "POST") {
    curl_easy_setopt(c, CURLOPT_POST, 1L);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, request.body.c_str());
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(request.body.size()));
  } else if (request.method != "GET") {
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, request.method.c_str());
  }
  std::unique_ptr<curl_slist, SlistDeleter> headers;
  for (const auto& h : request.headers) headers.reset(curl_slist_append(headers.release(), h.c_str()));
  // No "Expect: 100-continue" round trip before a JSON body.
  headers.reset(curl_slist_append(headers.release(), "Expect:"));
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers.get());

  curl_multi_add_handle(multi.get(), c);
  CURLcode done_code = CURLE_OK;
  bool done = false;
  while (!done) {
    if (cancel.cancelled()) {
      result.cancelled = true;
      break;
    }
    if (std::chrono::steady_clock::now() >= request.deadline) {
      result.deadline_passed = true;
      break;
    }
    int running = 0;
    if (const CURLMcode mc = curl_multi_perform(multi.get(), &running); mc != CURLM_OK) {
      result.curl_code = CURLE_FAILED_INIT;  // an internal failure, not worth a retry
      result.transport_error = std::string("libcurl: ") + curl_multi_strerror(mc);
      curl_multi_remove_handle(multi.get(), c);
      return result;
    }
    int left = 0;
    while (CURLMsg* msg = curl_multi_info_read(multi.get(), &left)) {
      if (msg->msg == CURLMSG_DONE) {
        done = true;
        done_code = msg->data.result;
      }
    }
    if (done || running == 0) {
      done = true;
      break;
    }
    curl_multi_poll(multi.get(), nullptr, 0, 50, nullptr);
  }
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &result.status);
  curl_multi_remove_handle(multi.get(), c);
  if (!result.cancelled && !result.deadline_passed && done_code != CURLE_OK && !ex.stopped_by_sink) {
    result.curl_code = static_cast<int>(done_code);
    result.transport_error = errbuf[0] ? errbuf : curl_easy_strerror(done_code);
  }
  if (ex.stopped_by_sink) result.cancelled = true;
  return result;
}

}  // namespace allm::remote
