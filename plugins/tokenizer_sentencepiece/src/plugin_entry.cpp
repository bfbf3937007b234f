// Plugin entry: registers the tokenizer.model factory as tokenizer
// "sentencepiece". Its score is below "hf"'s, so a checkpoint that ships both
// files keeps using tokenizer.json (what transformers' fast tokenizer reads);
// one with only tokenizer.model gets this one (allm/tokenizer_loader.hpp).
// spm_factory.hpp comes first: allm/version.hpp detects the C++ library ABI
// from macros that only a standard header defines.
#include "spm_factory.hpp"

#include "allm/plugin.hpp"

namespace {
allm::spm::SpmTokenizerFactory factory;
const allm::Component components[] = {allm::tokenizer_component("sentencepiece", 50, factory)};
}  // namespace

ALLM_DEFINE_PLUGIN("tokenizer-sentencepiece", "1.0.0", "SentencePiece tokenizer.model tokenizers (Llama, Mistral, Gemma)",
                   components)
