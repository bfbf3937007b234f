#pragma once
// The benchmark's input: a few megabytes of mixed text assembled
// deterministically from what any build machine has (license prose, C++
// standard library headers) plus generated CJK, Hangul, Cyrillic and Greek.
#include <string>
#include <vector>

namespace allm::bench {

// Chunks of at most about `chunk_bytes`, cut at line ends (each is encoded by
// one call), `total_bytes` in all.
std::vector<std::string> build_corpus(size_t total_bytes, size_t chunk_bytes);

}  // namespace allm::bench
