// Fitting a conversation into the context window under a truncation policy.
#include "allm/error.hpp"
#include "allm/provider/generation.hpp"

namespace allm {

namespace {

[[noreturn]] void too_long(size_t prompt, size_t context_length, size_t reserve, const char* after) {
  throw ContextWindowError("prompt is " + std::to_string(prompt) + " tokens" + after + ", but the context window is " +
                           std::to_string(context_length) + " tokens with " + std::to_string(reserve) +
                           " reserved for the reply; shorten the conversation, lower max_tokens or set "
                           "truncation to drop_oldest or truncate_left");
}

}  // namespace

std::vector<TokenId> fit_to_context(std::vector<Message>& messages, TruncationPolicy policy, size_t context_length,
                                    size_t reserve_tokens,
                                    const std::function<std::vector<TokenId>(const std::vector<Message>&)>& tokenize,
                                    size_t keep_prefix) {
  if (context_length == 0) throw InvalidArgumentError("fit_to_context: context_length must be > 0");
  if (reserve_tokens >= context_length)
    throw ContextWindowError("max_tokens reserve of " + std::to_string(reserve_tokens) +
                             " tokens leaves no room for a prompt in a context window of " +
                             std::to_string(context_length) + " tokens");
  const size_t budget = context_length - reserve_tokens;
  std::vector<TokenId> ids = tokenize(messages);
  if (ids.size() <= budget) return ids;

  switch (policy) {
    case TruncationPolicy::error:
      too_long(ids.size(), context_length, reserve_tokens, "");
    case TruncationPolicy::drop_oldest: {
      const size_t first_droppable = (!messages.empty() && messages[0].role == "system") ? 1 : 0;
      while (ids.size() > budget && messages.size() > first_droppable + 1) {
        messages.erase(messages.begin() + static_cast<long>(first_droppable));
        // A reply without its question reads oddly: drop leading non-user turns too.
        while (messages.size() > first_droppable + 1 && messages[first_droppable].role != "user")
          messages.erase(messages.begin() + static_cast<long>(first_droppable));
        ids = tokenize(messages);
      }
      if (ids.size() > budget) too_long(ids.size(), context_length, reserve_tokens, " after dropping every older turn");
      return ids;
    }
    case TruncationPolicy::truncate_left: {
      if (keep_prefix >= budget) too_long(ids.size(), context_length, reserve_tokens, " (its kept prefix alone)");
      std::vector<TokenId> out(ids.begin(), ids.begin() + static_cast<long>(keep_prefix));
      out.insert(out.end(), ids.end() - static_cast<long>(budget - keep_prefix), ids.end());
      return out;
    }
  }
  too_long(ids.size(), context_length, reserve_tokens, "");
}

}  // namespace allm
