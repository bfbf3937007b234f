// Plugin entry: registers the tokenizer.json factory as tokenizer "hf".
#include "allm/plugin.hpp"
#include "hf_factory.hpp"

namespace {
allm::hf::HfTokenizerFactory factory;
const allm_component components[] = {{ALLM_KIND_TOKENIZER, "hf", 100, &factory}};
}  // namespace

ALLM_DEFINE_PLUGIN("tokenizer-hf", "1.0.0", "Hugging Face tokenizer.json tokenizers (BPE, WordPiece)", components)
