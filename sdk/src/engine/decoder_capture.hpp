#pragma once
// describe_decoder (engine.hpp) runs an architecture plugin's create() to
// learn the decoder it would build, without building it: while a capture is
// open on this thread, make_decoder_model hands its spec and weights over and
// unwinds out of the plugin with DecoderCaptured (which only describe_decoder
// catches), and WeightStore::prepared keeps every matrix in its stored layout
// (no load-time repacking: a 70B GGUF file is not copied to be described).
#include "allm/engine.hpp"

namespace allm::detail {

struct DecoderCaptured {};

// The open capture of this thread, or null.
DecoderDescription*& decoder_capture() noexcept;

}  // namespace allm::detail
