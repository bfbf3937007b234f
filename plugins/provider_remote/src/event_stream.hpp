#pragma once
// Incremental framing of a streamed body: Server-Sent Events (OpenAI,
// Anthropic) or newline-delimited JSON (Ollama). Bytes arrive in arbitrary
// pieces; complete events are handed on as soon as their last line is in.
#include <functional>
#include <string>

namespace allm::remote {

class EventStream {
 public:
  enum class Framing { sse, ndjson };
  // `on_event(event_name, data)`: for NDJSON the name is empty and data is one line.
  using Handler = std::function<void(const std::string& event, const std::string& data)>;
  EventStream(Framing framing, Handler on_event) : framing_(framing), on_event_(std::move(on_event)) {}

  void feed(const char* data, size_t size);
  // End of body: a last line without its newline still counts.
  void finish();

 private:
  void line(std::string text);
  void dispatch();

  Framing framing_;
  Handler on_event_;
  std::string pending_;  // bytes after the last newline
  std::string event_, data_;
  bool has_data_ = false;
};

}  // namespace allm::remote
