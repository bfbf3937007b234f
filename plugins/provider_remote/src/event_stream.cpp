#include "event_stream.hpp"

#include <utility>

namespace allm::remote {

void EventStream::feed(const char* data, size_t size) {
  pending_.append(data, size);
  size_t start = 0;
  for (size_t nl; (nl = pending_.find('\n', start)) != std::string::npos; start = nl + 1)
    line(pending_.substr(start, nl - start));
  pending_.erase(0, start);
}

void EventStream::finish() {
  if (!pending_.empty()) line(std::exchange(pending_, {}));
  if (framing_ == Framing::sse) dispatch();
}

void EventStream::line(std::string text) {
  if (!text.empty() && text.back() == '\r') text.pop_back();
  if (framing_ == Framing::ndjson) {
    if (!text.empty()) on_event_("", text);
    return;
  }
  if (text.empty()) return dispatch();
  if (text[0] == ':') return;  // SSE comment (keep-alive)
  const size_t colon = text.find(':');
  const std::string field = text.substr(0, colon);
  std::string value = colon == std::string::npos ? "" : text.substr(colon + 1);
  if (!value.empty() && value[0] == ' ') value.erase(0, 1);
  if (field == "event") {
    event_ = value;
  } else if (field == "data") {
    if (has_data_) data_ += '\n';
    data_ += value;
    has_data_ = true;
  }
}

void EventStream::dispatch() {
  if (has_data_) on_event_(event_, data_);
  event_.clear();
  data_.clear();
  has_data_ = false;
}

}  // namespace allm::remote
