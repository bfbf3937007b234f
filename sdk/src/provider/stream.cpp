// The pull form of streaming: a producer thread runs the callback form and
// hands deltas over through a bounded queue, so a slow reader slows the engine
// down instead of letting memory grow.
#include <deque>
#include <thread>

#include "allm/error.hpp"
#include "allm/provider.hpp"

namespace allm {

struct Stream::State {
  std::mutex mutex;
  std::condition_variable readable;  // a delta arrived or the producer finished
  std::condition_variable writable;  // room in the queue or the reader left
  std::deque<StreamDelta> queue;
  size_t capacity = 64;
  bool done = false;         // producer finished (response or error set)
  bool reader_gone = false;  // Stream closed before the end
  GenerateResponse response;
  std::exception_ptr error;
  CancellationToken cancel;
  std::thread producer;

  void push(const StreamDelta& delta) {
    std::unique_lock lock(mutex);
    writable.wait(lock, [&] { return queue.size() < capacity || reader_gone; });
    if (reader_gone) return;  // nobody will read it; cancel is already set
    queue.push_back(delta);
    readable.notify_one();
  }

  void finish(GenerateResponse r, std::exception_ptr e) {
    std::lock_guard lock(mutex);
    response = std::move(r);
    error = e;
    done = true;
    readable.notify_all();
  }
};

Stream Provider::stream(const GenerateRequest& request, CancellationToken cancel, size_t queue_capacity) {
  auto self = shared_self("stream");
  auto state = std::make_shared<Stream::State>();
  state->capacity = queue_capacity == 0 ? 1 : queue_capacity;
  state->cancel = cancel;
  // The thread keeps only a weak reference: Stream owns the state and joins it.
  Stream::State* raw = state.get();
  state->producer = std::thread([raw, self, request] {
    try {
      auto r = self->run_serialised(request, [raw](const StreamDelta& d) { raw->push(d); }, raw->cancel);
      raw->finish(std::move(r), nullptr);
    } catch (...) {
      raw->finish({}, std::current_exception());
    }
  });
  return Stream(std::move(state));
}

Stream::Stream(std::shared_ptr<State> state) : state_(std::move(state)) {}
Stream::Stream(Stream&& other) noexcept : state_(std::move(other.state_)) {}
Stream& Stream::operator=(Stream&& other) noexcept {
  if (this != &other) {
    close();
    state_ = std::move(other.state_);
  }
  return *this;
}
Stream::~Stream() { close(); }

void Stream::close() {
  if (!state_) return;
  {
    std::lock_guard lock(state_->mutex);
    if (!state_->done) state_->cancel.cancel();
    state_->reader_gone = true;
  }
  state_->writable.notify_all();
  if (state_->producer.joinable()) state_->producer.join();
  state_.reset();
}

std::optional<StreamDelta> Stream::next() {
  if (!state_) throw InvalidArgumentError("Stream::next() on a moved-from stream");
  std::unique_lock lock(state_->mutex);
  state_->readable.wait(lock, [&] { return !state_->queue.empty() || state_->done; });
  if (!state_->queue.empty()) {
    StreamDelta d = std::move(state_->queue.front());
    state_->queue.pop_front();
    state_->writable.notify_one();
    return d;
  }
  if (state_->error) std::rethrow_exception(state_->error);
  return std::nullopt;
}

const GenerateResponse& Stream::response() const {
  if (!state_) throw InvalidArgumentError("Stream::response() on a moved-from stream");
  std::lock_guard lock(state_->mutex);
  if (!state_->done || !state_->queue.empty())
    throw InvalidArgumentError("Stream::response() called before next() returned the end");
  if (state_->error) std::rethrow_exception(state_->error);
  return state_->response;
}

void Stream::cancel() {
  if (state_) state_->cancel.cancel();
}

}  // namespace allm
