#pragma once
// What `allm pull` shows while it downloads: on a terminal, a bar per file
// being fetched and one for the whole pull (bytes, rate, ETA), redrawn in
// place; otherwise plain lines (a file starts, is retried, is done).
#include <chrono>
#include <cstdint>
#include <map>
#include <string>

#include "allm/byte_size.hpp"
#include "allm/hub/pull.hpp"

namespace allm::cli {

class PullProgress {
 public:
  explicit PullProgress(bool tty);
  void operator()(const hub::ProgressEvent& e);
  void finish();  // final redraw, leaves the cursor below the bars

 private:
  void redraw(bool force);
  struct File {
    uint64_t done = 0, total = 0;
  };
  bool tty_;
  std::map<std::string, File> active_;
  uint64_t total_ = 0, done_ = 0, done_at_start_ = 0;
  size_t lines_drawn_ = 0;
  std::chrono::steady_clock::time_point start_, last_draw_;
};

}  // namespace allm::cli
