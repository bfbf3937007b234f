#define PCRE2_CODE_UNIT_WIDTH 8
#include "regex.hpp"

#include <pcre2.h>

#include <algorithm>
#include <stdexcept>

#include "allm/error.hpp"

namespace allm::hf {

namespace {

// Per-thread match data and JIT stack, shared by every Regex on the thread.
struct ThreadMatchState {
  pcre2_match_data* data = nullptr;
  pcre2_jit_stack* stack = nullptr;
  pcre2_match_context* context = nullptr;
  ThreadMatchState() {
    data = pcre2_match_data_create(32, nullptr);
    stack = pcre2_jit_stack_create(32 * 1024, 4 * 1024 * 1024, nullptr);
    context = pcre2_match_context_create(nullptr);
    if (stack && context) pcre2_jit_stack_assign(context, nullptr, stack);
  }
  ~ThreadMatchState() {
    pcre2_match_context_free(context);
    pcre2_jit_stack_free(stack);
    pcre2_match_data_free(data);
  }
};

ThreadMatchState& thread_state() {
  thread_local ThreadMatchState state;
  return state;
}

thread_local RegexBudget* t_budget = nullptr;

// The first limit a match is tried with; most matches of real pre-tokenizer
// patterns need far fewer units.
constexpr uint64_t kFirstLimit = 4096;

}  // namespace

RegexBudget::RegexBudget(size_t input_bytes)
    : total_(kBase + kPerByte * static_cast<uint64_t>(input_bytes)), remaining_(total_), saved_(t_budget) {
  t_budget = this;
}

RegexBudget::~RegexBudget() { t_budget = saved_; }

RegexBudget* RegexBudget::current() { return t_budget; }

Regex::Regex(const std::string& pattern) : pattern_(pattern) {
  int error = 0;
  PCRE2_SIZE offset = 0;
  pcre2_code* code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(),
                                   PCRE2_UTF | PCRE2_UCP, &error, &offset, nullptr);
  if (!code) {
    PCRE2_UCHAR message[256];
    pcre2_get_error_message(error, message, sizeof message);
    throw std::invalid_argument("invalid regex at offset " + std::to_string(offset) + ": " +
                                reinterpret_cast<const char*>(message));
  }
  code_ = code;
  jit_ = pcre2_jit_compile(code, PCRE2_JIT_COMPLETE) == 0;
}

Regex::~Regex() { pcre2_code_free(static_cast<pcre2_code*>(code_)); }

bool Regex::find(std::string_view text, size_t pos, size_t& start, size_t& end) const {
  auto& st = thread_state();
  auto* code = static_cast<pcre2_code*>(code_);
  auto subject = reinterpret_cast<PCRE2_SPTR>(text.data());
  // PCRE2 does not report the work a match took, only whether it stayed
  // under a limit. So each match is tried with a small limit, then 4x that,
  // and so on, and each attempt that hit its limit is charged in full (that
  // work surely happened). The last, successful attempt did less than 4x the
  // previous limit (or kFirstLimit), so the work done is at most ~5x what was
  // charged plus kFirstLimit per match: linear in the input either way.
  RegexBudget* budget = RegexBudget::current();
  uint64_t limit = kFirstLimit;
  int rc;
  while (true) {
    uint64_t allowed = budget ? std::min(limit, budget->remaining()) : limit;
    if (allowed == 0) allowed = 1;
    pcre2_set_match_limit(st.context, static_cast<uint32_t>(std::min<uint64_t>(allowed, UINT32_MAX)));
    // Input was validated once up front: skip PCRE2's per-call UTF check.
    rc = jit_ ? pcre2_jit_match(code, subject, text.size(), pos, PCRE2_NO_UTF_CHECK, st.data, st.context)
              : pcre2_match(code, subject, text.size(), pos, PCRE2_NO_UTF_CHECK, st.data, st.context);
    if (rc == PCRE2_ERROR_MATCHLIMIT && budget) budget->spend(allowed);
    if (rc != PCRE2_ERROR_MATCHLIMIT || (!budget && limit >= RegexBudget::kBase)) break;
    if (budget && budget->remaining() == 0)
      throw TokenizerError("regex /" + pattern_ + "/: match failed: the input's regex work limit of " +
                           std::to_string(budget->total()) + " match steps is used up (catastrophic backtracking)");
    limit *= 4;
  }
  if (rc == PCRE2_ERROR_NOMATCH) return false;
  if (rc < 0) {
    PCRE2_UCHAR message[256];
    pcre2_get_error_message(rc, message, sizeof message);
    throw TokenizerError("regex /" + pattern_ + "/: match failed: " + reinterpret_cast<const char*>(message));
  }
  PCRE2_SIZE* ov = pcre2_get_ovector_pointer(st.data);
  start = ov[0];
  end = ov[1];
  return true;
}

}  // namespace allm::hf
