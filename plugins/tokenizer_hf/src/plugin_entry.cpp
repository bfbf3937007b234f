// Plugin entry: registers the tokenizer.json factory as tokenizer "hf".
// hf_factory.hpp comes first: allm/version.hpp detects the C++ library ABI
// from macros that only a standard header defines.
#include "hf_factory.hpp"

#include "allm/plugin.hpp"

namespace {
allm::hf::HfTokenizerFactory factory;
const allm::Component components[] = {allm::tokenizer_component("hf", 100, factory)};
}  // namespace

ALLM_DEFINE_PLUGIN("tokenizer-hf", "1.0.0", "Hugging Face tokenizer.json tokenizers (BPE, WordPiece)", components)
