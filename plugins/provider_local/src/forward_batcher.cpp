#include "forward_batcher.hpp"

#include <algorithm>
#include <cstring>

namespace allm::local {

ForwardBatcher::Active::Active(ForwardBatcher& b) : b_(b) {
  std::lock_guard lock(b_.mutex_);
  b_.active_++;
}

ForwardBatcher::Active::~Active() {
  std::lock_guard lock(b_.mutex_);
  b_.active_--;
  b_.cv_.notify_all();  // a leader may be waiting for this one's step
}

size_t ForwardBatcher::rows_of(const Call& c) const {
  size_t rows = 0;
  for (auto& e : c.batch) rows += e.logits == LogitsMode::all ? e.tokens.size() : e.logits == LogitsMode::last ? 1 : 0;
  return rows;
}

void ForwardBatcher::forward(std::span<const BatchEntry> batch, float* logits) {
  Call call;
  call.batch = batch;
  call.logits = logits;
  std::unique_lock lock(mutex_);
  pending_.push_back(&call);
  cv_.notify_all();
  while (!call.done) {
    if (busy_) {
      cv_.wait(lock);
      continue;
    }
    // Lead: gather the steps of the other active generations first.
    busy_ = true;
    const auto deadline = std::chrono::steady_clock::now() + gather_window();
    cv_.wait_until(lock, deadline, [&] { return pending_.size() >= active_; });
    std::vector<Call*> calls;
    calls.swap(pending_);
    lock.unlock();
    const auto started = std::chrono::steady_clock::now();
    run(calls);
    const auto took = std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - started);
    lock.lock();
    last_forward_ = took;
    for (Call* c : calls) c->done = true;
    busy_ = false;
    if (calls.size() > 1) {
      merged_calls_++;
      merged_sequences_ += calls.size();
    }
    cv_.notify_all();
  }
  if (call.error) std::rethrow_exception(call.error);
}

std::chrono::microseconds ForwardBatcher::gather_window() const {
  return std::clamp(last_forward_ / 2, kGatherWindow, kMaxGatherWindow);
}

void ForwardBatcher::forward_hidden(std::span<const BatchEntry> batch, float* hidden) {
  // Takes the model like a leader does, so no batched step runs meanwhile.
  std::unique_lock lock(mutex_);
  cv_.wait(lock, [&] { return !busy_; });
  busy_ = true;
  lock.unlock();
  std::exception_ptr error;
  try {
    model_.forward_hidden(batch, hidden);
  } catch (...) {
    error = std::current_exception();
  }
  lock.lock();
  busy_ = false;
  cv_.notify_all();
  if (error) std::rethrow_exception(error);
}

void ForwardBatcher::run(std::vector<Call*>& calls) {
  if (calls.size() == 1) {
    try {
      model_.forward(calls[0]->batch, calls[0]->logits);
    } catch (...) {
      calls[0]->error = std::current_exception();
    }
    return;
  }
  std::vector<BatchEntry> entries;
  size_t rows = 0;
  for (Call* c : calls) {
    entries.insert(entries.end(), c->batch.begin(), c->batch.end());
    rows += rows_of(*c);
  }
  const size_t vocab = static_cast<size_t>(model_.info().vocab_size);
  // Only the leader touches it (busy_), and every row is written by forward.
  merged_logits_.resize(rows * vocab);
  float* all = merged_logits_.data();
  try {
    model_.forward(entries, all);
  } catch (...) {
    // Refused before any cache changed: run each call alone so only the
    // offending one fails.
    for (Call* c : calls) {
      try {
        model_.forward(c->batch, c->logits);
      } catch (...) {
        c->error = std::current_exception();
      }
    }
    return;
  }
  size_t at = 0;
  for (Call* c : calls) {
    const size_t n = rows_of(*c) * vocab;
    if (n) std::memcpy(c->logits, all + at, n * sizeof(float));
    at += n;
  }
}

uint64_t ForwardBatcher::merged_calls() const {
  std::lock_guard lock(mutex_);
  return merged_calls_;
}

uint64_t ForwardBatcher::merged_sequences() const {
  std::lock_guard lock(mutex_);
  return merged_sequences_;
}

}  // namespace allm::local
