// Progress display of `allm pull` (see pull_progress.hpp).
#include "pull_progress.hpp"

#include <cstdio>
#include <iostream>

namespace allm::cli {

namespace {

std::string bar(uint64_t done, uint64_t total, int width) {
  const int filled = total ? static_cast<int>(static_cast<double>(done) / static_cast<double>(total) * width) : 0;
  std::string s(static_cast<size_t>(std::min(filled, width)), '#');
  s.resize(static_cast<size_t>(width), '-');
  return s;
}

std::string duration(double seconds) {
  if (seconds < 0 || seconds > 360000) return "--:--";
  const long s = static_cast<long>(seconds);
  char buf[32];
  if (s >= 3600)
    std::snprintf(buf, sizeof buf, "%ld:%02ld:%02ld", s / 3600, (s / 60) % 60, s % 60);
  else
    std::snprintf(buf, sizeof buf, "%02ld:%02ld", s / 60, s % 60);
  return buf;
}

std::string shorten(const std::string& name, size_t width) {
  if (name.size() <= width) return name + std::string(width - name.size(), ' ');
  return "..." + name.substr(name.size() - (width - 3));
}

}  // namespace

PullProgress::PullProgress(bool tty) : tty_(tty), start_(std::chrono::steady_clock::now()) {}

void PullProgress::operator()(const hub::ProgressEvent& e) {
  using K = hub::ProgressEvent;
  switch (e.kind) {
    case K::plan:
      total_ = e.total;
      start_ = std::chrono::steady_clock::now();
      if (!tty_) std::cerr << "pulling " << e.message << ", " << byte_size_text(e.total) << "\n";
      break;
    case K::waiting_for_lock:
      std::cerr << e.message << "\n";
      break;
    case K::file_start:
      active_[e.path] = {e.done, e.total};
      done_ += e.done;
      done_at_start_ += e.done;
      if (!tty_)
        std::cerr << (e.done ? "resuming " : "fetching ") << e.path << " (" << byte_size_text(e.total)
                  << (e.done ? ", from " + byte_size_text(e.done) : std::string()) << ")\n";
      break;
    case K::bytes: {
      auto& f = active_[e.path];
      if (e.done >= f.done)
        done_ += e.done - f.done;
      else  // the server ignored a Range request: the file restarted
        done_ -= std::min(done_, f.done - e.done);
      f.done = e.done;
      break;
    }
    case K::retry:
      if (tty_) redraw(true);
      std::cerr << (tty_ ? "\r\x1b[K" : "") << "retrying " << e.path << " from " << byte_size_text(e.done) << ": "
                << e.message << "\n";
      lines_drawn_ = 0;
      break;
    case K::file_done:
      active_.erase(e.path);
      if (!tty_) std::cerr << "done " << e.path << "\n";
      break;
  }
  if (tty_) redraw(false);
}

void PullProgress::redraw(bool force) {
  const auto now = std::chrono::steady_clock::now();
  if (!force && now - last_draw_ < std::chrono::milliseconds(100)) return;
  last_draw_ = now;
  std::string out;
  for (size_t i = 0; i < lines_drawn_; ++i) out += "\x1b[1A\r\x1b[K";
  size_t lines = 0;
  for (const auto& [name, f] : active_) {
    out += "  " + shorten(name, 32) + " [" + bar(f.done, f.total, 24) + "] " + byte_size_text(f.done) + " / " +
           byte_size_text(f.total) + "\x1b[K\n";
    ++lines;
  }
  const double secs = std::chrono::duration<double>(now - start_).count();
  const double rate = secs > 0 ? static_cast<double>(done_ - std::min(done_, done_at_start_)) / secs : 0;
  const double eta = rate > 0 && total_ > done_ ? static_cast<double>(total_ - done_) / rate : (total_ <= done_ ? 0 : -1);
  out += "  total [" + bar(done_, total_, 30) + "] " + byte_size_text(done_) + " / " + byte_size_text(total_) + "  " +
         byte_size_text(static_cast<uint64_t>(rate)) + "/s  ETA " + duration(eta) + "\x1b[K\n";
  ++lines;
  lines_drawn_ = lines;
  std::cerr << out << std::flush;
}

void PullProgress::finish() {
  if (tty_) redraw(true);
}

}  // namespace allm::cli
