#pragma once
// Shared by `allm tokenize` and `allm detokenize`: SOURCE (a model directory,
// a tokenizer file, or a directory holding one) -> a tokenizer, through the
// tokenizer plugin whose can_load takes it (allm/tokenizer_loader.hpp).
#include <memory>
#include <string>

#include "allm/error.hpp"
#include "allm/registry.hpp"
#include "allm/tokenizer.hpp"
#include "allm/tokenizer_loader.hpp"
#include "context.hpp"

namespace allm::cli {

inline std::unique_ptr<Tokenizer> load_tokenizer(const std::string& source) {
  host().plugins();
  return allm::load_tokenizer(source);
}

}  // namespace allm::cli
