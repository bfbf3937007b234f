#pragma once
// Runs a shell command line (the CLI under test, usually) and returns its
// exit status and standard output; the command line says where stderr goes
// ("2>&1" to read it too, "2>/dev/null" to drop it).
#include <sys/wait.h>

#include <cstdio>
#include <string>

namespace allm::test {

struct CommandResult {
  int status = -1;  // the exit code; -1: could not start, or ended by a signal
  std::string out;
};

inline CommandResult run_command(const std::string& command_line) {
  CommandResult r;
  FILE* p = ::popen(command_line.c_str(), "r");
  if (!p) return r;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) r.out.append(buf, n);
  const int st = ::pclose(p);
  r.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return r;
}

}  // namespace allm::test
