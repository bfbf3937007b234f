#pragma once
// The generation contract: what an application asks of a provider (a request
// with messages or a prompt, attachments and sampling parameters) and what it
// gets back (text, finish reason, usage, timings), in four forms — blocking,
// streamed through a callback, pulled from a Stream, or as a std::future.
//
// A provider plugin registers a ProviderFactory (kind "provider", e.g. "local");
// the factory creates Provider objects from an options JSON (docs/api.md).
//
// Implementers override do_generate() (and capabilities(), optionally the
// cache-state hooks); the public entry points validate the request, load the
// attachments, serialise calls and run the async/stream machinery for them.
//
// Cancellation never throws: a cancelled generation returns normally with
// finish_reason "cancelled" and whatever text was produced before it.
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "allm/logprobs.hpp"
#include "allm/media.hpp"
#include "allm/tokenizer.hpp"

namespace allm {

// ---------------------------------------------------------------- parameters

// Sampling and stopping settings. Every field is optional: an unset field falls
// back to the model's generation_config.json, then to the config's
// "generation" section (resolve_generation_params in allm/provider/generation.hpp).
struct GenerationParams {
  std::optional<double> temperature;         // 0 = greedy
  std::optional<double> top_p;               // (0, 1]
  std::optional<int> top_k;                  // 0 = off
  std::optional<double> min_p;               // [0, 1]
  std::optional<double> repetition_penalty;  // 1 = off
  std::optional<double> presence_penalty;    // 0 = off
  std::optional<double> frequency_penalty;   // 0 = off
  std::optional<int64_t> seed;               // -1 = random
  std::optional<int> max_tokens;             // > 0
  std::optional<std::vector<std::string>> stop;  // generation ends before any of these
  std::optional<bool> ignore_eos;            // keep going past end-of-sequence tokens

  // Keys as in the config's "generation" section; unknown keys and wrongly
  // typed values throw InvalidArgumentError naming `where` and the key.
  static GenerationParams from_json(const nlohmann::json& j, const std::string& where = "generation");
  nlohmann::json to_json() const;  // only the fields that are set
  // Fills every unset field from `fallback`.
  GenerationParams with_fallback(const GenerationParams& fallback) const;
  // Throws InvalidArgumentError naming the first out-of-range field.
  void validate(const std::string& where = "generation") const;
};

// What to do when the prompt does not fit in the context window.
enum class TruncationPolicy {
  error,          // throw ContextWindowError (default)
  drop_oldest,    // drop the oldest turns (never the system prompt or the last message)
  truncate_left,  // cut tokens from the start of the rendered prompt
};
const char* truncation_policy_name(TruncationPolicy p) noexcept;
// "error" | "drop_oldest" | "truncate_left"; anything else throws InvalidArgumentError.
TruncationPolicy truncation_policy_from_name(const std::string& name);

// ------------------------------------------------------------------ requests

struct Message {
  Message() = default;
  Message(std::string role_, std::string content_, std::vector<std::filesystem::path> attachments_ = {})
      : role(std::move(role_)), content(std::move(content_)), attachments(std::move(attachments_)) {}

  std::string role;     // "system" | "user" | "assistant" | "tool"
  std::string content;
  std::vector<std::filesystem::path> attachments;  // loaded by the media handlers
  // Where each attachment goes in `content` (byte offsets, one per attachment,
  // non-decreasing, on character boundaries); empty: all before the text.
  // An image's place is kept up to the chat template (docs/vision.md).
  std::vector<size_t> attachment_offsets;
  // Assistant turns: the tool calls it made, as chat templates take them
  // ([{"id", "type": "function", "function": {"name", "arguments": {…}}}]).
  nlohmann::json tool_calls = nlohmann::json::array();
  // Tool turns: the call this result answers, and the tool's name.
  std::string tool_call_id;
  std::string name;

  nlohmann::json to_json() const;
  static Message from_json(const nlohmann::json& j, const std::string& where = "message");
};

// llama.cpp's media marker: in the text a user types (allm run, chat), each
// marker is where the next attached file goes.
inline constexpr const char* kMediaMarker = "<__media__>";
struct MarkedText {
  std::string text;             // without the markers
  std::vector<size_t> offsets;  // where each marker was in `text`, in order
};
MarkedText split_media_markers(const std::string& text);

// A message's text cut at its attachments' offsets (non-decreasing): text and
// attachments in order, empty text pieces left out; `attachment` indexes
// `offsets`. An attachment at offset 0 comes before all the text.
struct ContentPiece {
  std::string text;
  std::optional<size_t> attachment;
};
std::vector<ContentPiece> content_pieces(const std::string& text, const std::vector<size_t>& offsets);

// Constrained decoding: the reply must match this grammar (docs/structured-output.md).
struct OutputGrammar {
  std::string kind;    // "json_schema" (source: the schema as JSON text), "gbnf" or "regex"
  std::string source;
  static OutputGrammar from_json(const nlohmann::json& j, const std::string& where);
  nlohmann::json to_json() const;
};

struct GenerateRequest {
  // Either a conversation or a plain prompt (a single user turn) — not both.
  std::vector<Message> messages;
  std::optional<std::string> prompt;
  std::optional<std::string> system_prompt;  // placed first; conflicts with a "system" message
  // Files attached to the last user turn (or to the prompt).
  std::vector<std::filesystem::path> files;
  // Where each of `files` goes in that turn's text (as Message::attachment_offsets);
  // empty: before the text.
  std::vector<size_t> file_offsets;
  GenerationParams params;
  nlohmann::json tools = nlohmann::json::array();  // OpenAI-style function specs
  // Which tools the reply may or must call, OpenAI-style: null or "auto" (the
  // model decides), "none" (tools not offered), "required" (at least one call),
  // {"type": "function", "function": {"name": N}} (a call of N). docs/tools.md.
  nlohmann::json tool_choice;
  std::optional<OutputGrammar> grammar;           // constrain the reply; none: free text
  bool stream = false;  // informational: which entry point the caller meant to use
  TruncationPolicy truncation = TruncationPolicy::error;
  std::string model;    // empty: the provider's loaded/default model
  // Report each reply token's log-probability with this many most likely
  // alternatives (0..kMaxTopLogprobs); unset: none.
  std::optional<int> logprobs;

  // Throws InvalidArgumentError naming the offending field.
  void validate() const;
  static GenerateRequest from_json(const nlohmann::json& j);
  nlohmann::json to_json() const;
};

// ----------------------------------------------------------------- responses

namespace finish_reason {
inline constexpr const char* stop = "stop";            // EOS token or a stop string
inline constexpr const char* length = "length";        // max_tokens or context window reached
inline constexpr const char* cancelled = "cancelled";  // a CancellationToken fired
inline constexpr const char* tool_calls = "tool_calls";  // the reply ended with structured tool calls
}  // namespace finish_reason

struct Usage {
  int64_t prompt_tokens = 0;
  int64_t completion_tokens = 0;
  int64_t total_tokens = 0;
};

struct Timings {
  double load_ms = 0;    // model load for this request (0 when already loaded)
  double prompt_ms = 0;  // prefill
  double decode_ms = 0;
  double prefill_tokens_per_s = 0;
  double decode_tokens_per_s = 0;
};

struct GenerateResponse {
  std::string text;
  std::string model;
  std::string finish_reason;
  Usage usage;
  Timings timings;
  std::vector<TokenId> token_ids;  // generated ids (EOS and stop strings excluded)
  // The sampling seed used (drawn at random when the request gave none), so a
  // good sample can be reproduced with params.seed; unset when not applicable.
  std::optional<uint64_t> seed;
  // Oldest messages left out so the conversation fits the context window
  // (truncation drop_oldest); 0 when everything fit.
  int64_t dropped_messages = 0;
  // One per token_ids entry when the request asked for logprobs.
  std::vector<TokenLogprob> logprobs;
  // Tool calls the provider returned as structured data (remote APIs), in
  // Message::tool_calls' shape: [{"id", "type": "function", "function":
  // {"name", "arguments": {…}}}], arguments parsed. Empty when none, or when
  // the calls are in `text` in the model's own format (the local provider;
  // allm/tool_calls.hpp's ReplyParser splits those).
  nlohmann::json tool_calls = nlohmann::json::array();
  // Reasoning the API returned apart from the text (OpenAI reasoning_content,
  // Anthropic thinking, Ollama thinking); empty when none.
  std::string reasoning;

  nlohmann::json to_json() const;
};

// A piece of the reply as it is produced. `text` is whole UTF-8 characters;
// text that might be the start of a stop string is held back until decided.
struct StreamDelta {
  std::string text;
  std::vector<TokenId> token_ids;  // ids produced since the previous delta
  std::vector<TokenLogprob> logprobs;  // theirs, when the request asked for logprobs
};
using StreamCallback = std::function<void(const StreamDelta&)>;

// ------------------------------------------------------------- cancellation

// Shared flag: copies observe the same state. Providers check it between
// tokens (and between prefill chunks), so cancel() takes effect within a token.
class CancellationToken {
 public:
  CancellationToken() : state_(std::make_shared<std::atomic<bool>>(false)) {}
  void cancel() const noexcept { state_->store(true, std::memory_order_relaxed); }
  bool cancelled() const noexcept { return state_->load(std::memory_order_relaxed); }

 private:
  std::shared_ptr<std::atomic<bool>> state_;
};

// ------------------------------------------------------------- capabilities

struct Capabilities {
  bool streaming = true;
  bool system_prompt = true;
  bool async = true;
  bool tool_use = false;       // the model's chat template renders tools
  bool vision = false;         // image attachments are accepted
  bool cache_state = false;    // save_cache_state/restore_cache_state work
  int64_t max_context = 0;     // tokens; 0 = unknown
  std::string model;           // loaded model id, empty when none
  nlohmann::json model_info = nlohmann::json::object();  // provider-specific details

  nlohmann::json to_json() const;
};

// --------------------------------------------------------------- embeddings

// Vectors for texts, from an embedding checkpoint (the local provider: the
// sentence-transformers layout, allm/sentence_embedding.hpp). Either `texts`
// or `token_inputs` (already tokenized), not both.
struct EmbedRequest {
  std::vector<std::string> texts;
  std::vector<std::vector<TokenId>> token_inputs;
  std::optional<int64_t> dimensions;  // keep the first N values (renormalised when the model normalises)
  bool truncate = true;     // false: an input longer than the model's limit is an error, not cut
  std::string prompt_name;  // a prompt of the model's config ("query"); empty: its default
  std::string model;        // empty: the provider's loaded/default model
};

struct EmbedResponse {
  std::vector<std::vector<float>> embeddings;  // one per input, in order
  int64_t prompt_tokens = 0;                   // tokens of all inputs (after truncation)
  std::string model;
  double load_ms = 0, total_ms = 0;
};

// Opaque engine state (e.g. a KV cache) tagged with the model it belongs to.
struct CacheState {
  std::string model_fingerprint;
  std::vector<uint8_t> data;
};

// ------------------------------------------------------------------ provider

// A request after validation: system prompt first, prompt turned into a user
// turn, text attachments folded into their message, images collected.
struct PreparedImage {
  size_t message_index = 0;  // the message it was attached to
  size_t offset = 0;         // where it goes in that message's content (bytes; 0: before the text)
  MediaContent media;
};
struct PreparedRequest {
  std::vector<Message> messages;  // attachments already resolved (lists empty)
  std::vector<PreparedImage> images;
  GenerationParams params;        // as requested: resolve against model/config defaults
  nlohmann::json tools;           // empty when tool_choice is "none"
  nlohmann::json tool_choice;     // as requested (validated); null: auto
  std::optional<OutputGrammar> grammar;
  TruncationPolicy truncation = TruncationPolicy::error;
  std::string model;
  std::optional<int> logprobs;
};

// The tool a validated tool_choice forces ("required": "" = any of the tools;
// a named function: its name); nullopt when no call is forced (null, auto, none).
std::optional<std::string> forced_tool(const nlohmann::json& tool_choice);

class Stream;

class Provider : public std::enable_shared_from_this<Provider> {
 public:
  explicit Provider(MediaLimits media_limits = {}) : media_limits_(media_limits) {}
  virtual ~Provider() = default;
  Provider(const Provider&) = delete;
  Provider& operator=(const Provider&) = delete;

  virtual Capabilities capabilities() const = 0;

  // Blocking generation.
  GenerateResponse generate(const GenerateRequest& request, CancellationToken cancel = {});
  // Blocking, calling `on_delta` on this thread as pieces are produced.
  GenerateResponse generate(const GenerateRequest& request, const StreamCallback& on_delta,
                            CancellationToken cancel = {});
  // Pull form: a producer thread generates into a bounded queue of
  // `queue_capacity` deltas; the engine waits while the queue is full.
  // Needs the provider to be owned by a std::shared_ptr.
  Stream stream(const GenerateRequest& request, CancellationToken cancel = {}, size_t queue_capacity = 64);
  // Runs on the SDK's async job pool. Needs std::shared_ptr ownership (the job
  // keeps the provider alive). `on_delta`, if given, runs on the pool thread.
  std::future<GenerateResponse> generate_async(const GenerateRequest& request, CancellationToken cancel = {},
                                               StreamCallback on_delta = {});

  // Turns a request into a PreparedRequest (validation, attachments, vision
  // check). Public so front ends can report attachment errors early.
  PreparedRequest prepare(const GenerateRequest& request) const;

  // Identifies the loaded model's weights for cache-state matching; empty when
  // nothing is loaded or the provider keeps no state.
  virtual std::string model_fingerprint() const { return {}; }
  // The engine state left by the most recent generation, when the provider
  // supports it (capabilities().cache_state); nullopt otherwise.
  virtual std::optional<CacheState> save_cache_state() const { return std::nullopt; }
  // Restores a state saved earlier; returns false (and changes nothing) when
  // the fingerprint differs from model_fingerprint() or state is unsupported.
  virtual bool restore_cache_state(const CacheState& /*state*/) { return false; }

  const MediaLimits& media_limits() const { return media_limits_; }

  // Prompt inspection, for front ends that count or show tokens (allm serve's
  // /tokenize, /detokenize, /apply-template, count_tokens). A provider that
  // implements these sets "prompt_inspection": true in capabilities().model_info;
  // callers check it first (a plugin built against ABI 2.0 lacks these slots).
  // The defaults throw UnsupportedError. Safe to call while a generation runs.
  struct PromptPreview {
    std::string text;            // the prompt as the model will see it (template applied)
    std::vector<TokenId> ids;    // its token ids
  };
  virtual PromptPreview preview_prompt(const GenerateRequest& request);
  virtual std::vector<TokenId> tokenize(const std::string& text, bool add_special_tokens);
  virtual std::string detokenize(const std::vector<TokenId>& ids, bool skip_special_tokens);

  // Embeddings (appended in ABI 2.2). A provider that implements them sets
  // "embedding" (an object: dimension, pooling, normalize) in
  // capabilities().model_info; the default throws UnsupportedError. Safe to
  // call while a generation runs.
  virtual EmbedResponse embed(const EmbedRequest& request);

 protected:
  // The engine-specific part. Runs with at most one call per provider at a
  // time. Must check `cancel` between tokens and return finish_reason
  // "cancelled" when it fires; may call on_delta (never null) from this thread.
  virtual GenerateResponse do_generate(const PreparedRequest& request, const StreamCallback& on_delta,
                                       const CancellationToken& cancel) = 0;

 private:
  GenerateResponse run_serialised(const GenerateRequest& request, const StreamCallback& on_delta,
                                  const CancellationToken& cancel);
  std::shared_ptr<Provider> shared_self(const char* what);

  MediaLimits media_limits_;
  std::mutex busy_mutex_;
  std::condition_variable busy_cv_;
  bool busy_ = false;
};

// Pull iterator over a streamed generation. Moving is allowed; destroying a
// Stream before the end cancels the generation and joins its thread.
class Stream {
 public:
  struct State;
  explicit Stream(std::shared_ptr<State> state);
  Stream(Stream&&) noexcept;
  Stream& operator=(Stream&&) noexcept;
  ~Stream();

  // Blocks until the next delta; nullopt once the generation is over. Rethrows
  // the generation's error (after the deltas produced before it).
  std::optional<StreamDelta> next();
  // The final response; valid once next() returned nullopt.
  const GenerateResponse& response() const;
  void cancel();

 private:
  void close();
  std::shared_ptr<State> state_;
};

// ------------------------------------------------------------------- factory

// Registered by a provider plugin. Options (documented per provider, common keys):
//   "model":  model path or id to load (may be empty: load per request)
//   "config": the host's merged configuration (generation defaults, media limits,
//             context_length, threads); built-in defaults when absent.
class ProviderFactory {
 public:
  virtual ~ProviderFactory() = default;
  virtual std::shared_ptr<Provider> create(const nlohmann::json& options) const = 0;
  virtual std::string description() const = 0;
};

// Looks `name` up in the Registry and creates a provider. An unknown name
// throws PluginLoadError listing the providers that are registered.
std::shared_ptr<Provider> create_provider(const std::string& name, const nlohmann::json& options);

// Throws MediaError "this model does not support images" naming the file when
// `media` is an image and the capabilities have no vision.
void require_vision(const Capabilities& caps, const MediaContent& media);
// The same check from a handler's kind, before the file is decoded.
void require_vision(const Capabilities& caps, MediaKind kind, const std::filesystem::path& source);

}  // namespace allm
