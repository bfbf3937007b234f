// Applying a matcher to the logits of one decoding step.
#include <algorithm>
#include <bit>
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
  // A word at a time. Token ids are not in byte order, so the few tokens a
  // state treats apart (those holding a quote, a backslash, a control byte...)
  // are scattered over the vocabulary and most words are mixed: a branch per
  // token cost ~100 us a step on a 150k vocabulary. Visit only the bits of the
  // rarer kind: the refused ones, or, when few are allowed, keep the allowed
  // logits, refuse the whole word and put them back.
  for (int64_t base = 0; base < vocab; base += 64) {
    const auto w = static_cast<size_t>(base / 64);
    const int64_t n = std::min<int64_t>(64, vocab - base);
    const uint64_t in_vocab = n == 64 ? ~uint64_t{0} : (uint64_t{1} << n) - 1;
    const uint64_t bits = (w < mask.size() ? mask[w] : 0) & in_vocab;
    if (bits == in_vocab) continue;
    float* row = logits + base;
    if (std::popcount(bits) <= 16) {
      float kept[16];
      int count = 0;
      for (uint64_t b = bits; b; b &= b - 1) kept[count++] = row[std::countr_zero(b)];
      std::fill(row, row + n, neg);
      count = 0;
      for (uint64_t b = bits; b; b &= b - 1) row[std::countr_zero(b)] = kept[count++];
    } else {
      for (uint64_t refused = ~bits & in_vocab; refused; refused &= refused - 1) row[std::countr_zero(refused)] = neg;
    }
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
