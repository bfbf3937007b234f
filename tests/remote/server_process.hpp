#pragma once
// Starts a loopback server for a test (the fake API script or `allm serve`),
// waits for the line that says where it listens, and kills it at the end.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <regex>
#include <stdexcept>
#include <string>
#include <vector>

namespace allm::test {

class ServerProcess {
 public:
  // Runs `argv`; reads `stream` (1 stdout, 2 stderr) until `ready` matches and
  // returns its first group (the port or URL). Throws after 60 s or on exit.
  ServerProcess(std::vector<std::string> argv, int stream, const std::string& ready) {
    int fds[2];
    if (pipe(fds) != 0) throw std::runtime_error("pipe failed");
    pid_ = fork();
    if (pid_ == 0) {
      dup2(fds[1], stream);
      close(fds[0]);
      close(fds[1]);
      std::vector<char*> args;
      for (auto& a : argv) args.push_back(a.data());
      args.push_back(nullptr);
      execvp(args[0], args.data());
      _exit(127);
    }
    close(fds[1]);
    fd_ = fds[0];
    const std::regex re(ready);
    std::string seen;
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    char buf[512];
    std::smatch m;
    while (!std::regex_search(seen, m, re)) {
      if (std::chrono::steady_clock::now() > until) throw std::runtime_error("server did not start: " + seen);
      const ssize_t n = read(fd_, buf, sizeof buf);
      if (n <= 0) throw std::runtime_error("server exited before it was ready: " + seen);
      seen.append(buf, static_cast<size_t>(n));
    }
    where_ = m[1];
  }
  ~ServerProcess() {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
    if (fd_ >= 0) close(fd_);
  }
  ServerProcess(const ServerProcess&) = delete;
  ServerProcess& operator=(const ServerProcess&) = delete;
  const std::string& where() const { return where_; }

 private:
  pid_t pid_ = -1;
  int fd_ = -1;
  std::string where_;
};

}  // namespace allm::test
