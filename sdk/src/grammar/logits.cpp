// Applying a matcher to the logits of one decoding step.
#include <algorithm>
#include <limits>

#include "allm/error.hpp"
#include "allm/tool_calls.hpp"
#include "grammar_ir.hpp"

namespace allm::grammar {

void mask_logits(Matcher& m, float* logits, int64_t vocab, const std::vector<int32_t>& eos_ids) {
  thread_local std::vector<uint64_t> mask;
  m.compute_mask(mask);
  thread_local std::vector<float> eos_logits;
  eos_logits.clear();
  for (int32_t e : eos_ids) eos_logits.push_back(e >= 0 && e < vocab ? logits[e] : 0.0f);
  const float neg = -std::numeric_limits<float>::infinity();
  for (int64_t t = 0; t < vocab; ++t) {
    auto i = static_cast<size_t>(t);
    bool ok = i / 64 < mask.size() && ((mask[i / 64] >> (i % 64)) & 1);
    if (!ok) logits[t] = neg;
  }
  const bool accepting = m.is_accepting();
  for (size_t k = 0; k < eos_ids.size(); ++k)
    if (eos_ids[k] >= 0 && eos_ids[k] < vocab) logits[eos_ids[k]] = accepting ? eos_logits[k] : neg;
}

std::shared_ptr<const Grammar> compile(const std::string& kind, const std::string& source) {
  if (kind == "json_schema") return compile_json_schema_text(source);
  if (kind == "gbnf") return compile_gbnf(source);
  if (kind == "regex") return compile_regex(source);
  if (kind == "tool_calls") return tools::compile_call_grammar_text(source);
  throw InvalidArgumentError("grammar kind must be json_schema, gbnf, regex or tool_calls, got '" + kind + "'");
}

}  // namespace allm::grammar
