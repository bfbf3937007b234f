// Applying a matcher to the logits of one decoding step.
#include <algorithm>
#include <cstdint>
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
  // A word at a time: most words of a mask are all allowed or all refused.
  for (int64_t base = 0; base < vocab; base += 64) {
    const auto w = static_cast<size_t>(base / 64);
    const uint64_t bits = w < mask.size() ? mask[w] : 0;
    const int64_t n = std::min<int64_t>(64, vocab - base);
    if (bits == ~uint64_t{0}) continue;
    float* row = logits + base;
    if (bits == 0) {
      std::fill(row, row + n, neg);
      continue;
    }
    for (int64_t k = 0; k < n; ++k)
      if (!((bits >> k) & 1)) row[k] = neg;
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
