#pragma once
// tokenizer.json (byte-level BPE) -> GGUF tokenizer.ggml.* metadata.
#include <string>

#include "allm/checkpoint.hpp"
#include "allm/gguf.hpp"

namespace allm::gguf::detail {

// Adds the vocabulary, merges, pre-tokenizer name, special token ids, add_bos
// and the chat template of `ck` to `w`. Throws UnsupportedError for
// vocabularies llama.cpp's `gpt2` model cannot express.
void write_vocabulary(const Checkpoint& ck, Writer& w);

}  // namespace allm::gguf::detail
