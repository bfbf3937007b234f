#pragma once
// A multi-turn conversation over a provider: keeps the history, sends each new
// user turn with everything before it, and saves/loads itself as JSON. The
// provider's cache state (e.g. its KV cache) is saved beside the JSON as an
// opaque blob and restored only into a provider whose model fingerprint matches.
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "allm/provider.hpp"

namespace allm {

struct SessionOptions {
  std::optional<std::string> system_prompt;
  GenerationParams params;
  TruncationPolicy truncation = TruncationPolicy::error;
};

class ChatSession {
 public:
  ChatSession(std::shared_ptr<Provider> provider, SessionOptions options = {});

  // Sends one user turn. The user turn and the reply join the history when the
  // call returns (a cancelled reply is kept as far as it got); when it throws,
  // the history is unchanged.
  GenerateResponse send(const std::string& text, std::vector<std::filesystem::path> attachments = {},
                        const StreamCallback& on_delta = {}, CancellationToken cancel = {});
  // The same with a user turn made by the caller (e.g. its attachments placed
  // in the text: Message::attachment_offsets).
  GenerateResponse send(Message turn, const StreamCallback& on_delta = {}, CancellationToken cancel = {});

  const std::vector<Message>& history() const { return history_; }
  const SessionOptions& options() const { return options_; }
  void clear() { history_.clear(); }

  // Writes `path` (JSON, format "allm-session" version 1) and, when the provider
  // has cache state, `path` + ".kv" next to it. Throws IoError naming the file.
  void save(const std::filesystem::path& path) const;
  // Reads a saved session. The cache blob is restored only when its fingerprint
  // equals provider->model_fingerprint() and its checksum is intact; otherwise
  // the history alone is restored. Malformed files throw IoError naming the
  // file and the JSON path.
  static ChatSession load(std::shared_ptr<Provider> provider, const std::filesystem::path& path);
  // Whether load() restored the provider's cache state.
  bool cache_restored() const { return cache_restored_; }

 private:
  std::shared_ptr<Provider> provider_;
  SessionOptions options_;
  std::vector<Message> history_;
  bool cache_restored_ = false;
};

}  // namespace allm
