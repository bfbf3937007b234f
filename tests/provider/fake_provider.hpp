#pragma once
// A fake engine behind the real Provider machinery: a fixed vocabulary, a
// scripted reply, word-count "tokenization", and hooks that let a test hold
// the engine at a given token to observe streaming and cancellation.
#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>

#include "allm/provider.hpp"
#include "allm/provider/generation.hpp"

namespace fake {

// Vocabulary: id -> text. 0 is EOS.
inline const std::map<allm::TokenId, std::string>& vocab() {
  static const std::map<allm::TokenId, std::string> v = {
      {0, "</s>"}, {1, "Hello"}, {2, " world"}, {3, ","}, {4, " how"}, {5, " are"}, {6, " you"}, {7, "?"}};
  return v;
}

// A one-shot gate: the engine waits at `step` until open() (or forever-safe: tests always open).
class Gate {
 public:
  void arm(size_t step) { step_ = step; }
  // Called by the engine before producing token `step`.
  void at(size_t step);
  void wait_reached();  // test side: the engine is waiting at the gate
  void open();

 private:
  std::mutex m_;
  std::condition_variable cv_;
  size_t step_ = SIZE_MAX;
  bool reached_ = false, opened_ = false;
};

struct FakeOptions {
  std::string model = "fake-model";
  std::vector<allm::TokenId> script = {1, 2, 3, 4, 5, 6, 7, 0};  // "Hello world, how are you?" EOS
  size_t context_length = 64;
  size_t reserve = 8;
  bool vision = false;
  int throw_at_step = -1;  // engine throws ModelLoadError before this token
  allm::GenerationParams model_defaults;   // as generation_config.json would give
  allm::GenerationParams config_defaults;  // as the config's "generation" section would give
};

class FakeProvider : public allm::Provider {
 public:
  explicit FakeProvider(FakeOptions options = {}, allm::MediaLimits limits = {})
      : Provider(limits), options_(std::move(options)) {}

  allm::Capabilities capabilities() const override;
  std::string model_fingerprint() const override { return "fake:" + options_.model; }
  std::optional<allm::CacheState> save_cache_state() const override;
  bool restore_cache_state(const allm::CacheState& state) override;

  Gate gate;
  std::function<void(size_t)> on_step;  // called before every token, on the engine thread

  // What the last do_generate saw.
  allm::PreparedRequest last_request;
  allm::ResolvedParams last_params;
  std::vector<allm::TokenId> last_prompt_ids;
  int calls = 0;
  std::vector<allm::TokenId> restored_tokens;

 protected:
  allm::GenerateResponse do_generate(const allm::PreparedRequest& request, const allm::StreamCallback& on_delta,
                                     const allm::CancellationToken& cancel) override;

 private:
  FakeOptions options_;
  std::vector<allm::TokenId> cache_tokens_;  // prompt + reply of the last generation
};

// Word-count tokenizer over "role: content" lines: one id (100) per word.
std::vector<allm::TokenId> tokenize(const std::vector<allm::Message>& messages);

}  // namespace fake
