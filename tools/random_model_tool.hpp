#pragma once
// What the random-model tools (allm-make-random-checkpoint, allm-make-random-gguf)
// share: their random numbers and their main().
#include <cstdint>
#include <exception>
#include <iostream>

#include "allm/error.hpp"

namespace allm::tools {

// xorshift64*: fast, reproducible from its seed; the weights' values do not
// matter, only that every run writes the same file.
struct Rng {
  uint64_t s = 0x9E3779B97F4A7C15ULL;
  uint64_t next() {
    s ^= s >> 12;
    s ^= s << 25;
    s ^= s >> 27;
    return s * 0x2545F4914F6CDD1DULL;
  }
  // Uniform in [-a, a).
  float uniform(float a) { return (static_cast<float>(next() >> 40) / 16777216.0f * 2 - 1) * a; }
};

// main() of a tool: an allm::Error prints "NAME: message" and exits with its
// code (docs/cli.md), any other exception exits 1.
inline int tool_main(const char* name, int (*run)(int, char**), int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const allm::Error& e) {
    std::cerr << name << ": " << e.what() << "\n";
    return static_cast<int>(e.code());
  } catch (const std::exception& e) {
    std::cerr << name << ": " << e.what() << "\n";
    return 1;
  }
}

}  // namespace allm::tools
