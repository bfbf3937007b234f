// Provider's public entry points: validation and attachment loading around
// do_generate, one generation at a time, and the async form.
#include <chrono>
#include <cstdio>

#include "allm/error.hpp"
#include "allm/media.hpp"
#include "allm/provider.hpp"
#include "allm/provider/job_pool.hpp"
#include "allm/registry.hpp"

namespace allm {

namespace {

GenerateResponse cancelled_before_start(const std::string& model) {
  GenerateResponse r;
  r.model = model;
  r.finish_reason = finish_reason::cancelled;
  return r;
}

// Text attachments without a place go before the turn's own text, each
// framed by its handler.
void fold_text_attachments(Message& m, const std::vector<std::string>& texts) {
  if (texts.empty()) return;
  std::string folded;
  for (auto& t : texts) folded += t;
  if (!m.content.empty()) folded += "\n" + m.content;
  m.content = std::move(folded);
}

// The user's text must be UTF-8: say where in *their* input it is not (a
// tokenizer error later would point into the rendered template instead).
void require_utf8(const std::string& text, const std::string& what) {
  const size_t at = find_non_text_byte({reinterpret_cast<const uint8_t*>(text.data()), text.size()});
  if (at == std::string::npos) return;
  const unsigned byte = static_cast<unsigned char>(text[at]);
  if (byte == 0) throw InvalidArgumentError(what + " holds a NUL byte at byte " + std::to_string(at + 1));
  char hex[8];
  std::snprintf(hex, sizeof hex, "0x%02X", byte);
  throw InvalidArgumentError(what + " is not valid UTF-8 at byte " + std::to_string(at + 1) + " (" + hex + ")");
}

}  // namespace

void require_vision(const Capabilities& caps, MediaKind kind, const std::filesystem::path& source) {
  if (kind == MediaKind::image && !caps.vision) {
    std::string which = caps.model.empty() ? "" : " (model '" + caps.model + "' has no vision support)";
    throw MediaError(source.string() + ": this model does not support images" + which);
  }
}

void require_vision(const Capabilities& caps, const MediaContent& media) { require_vision(caps, media.kind, media.source); }

Provider::PromptPreview Provider::preview_prompt(const GenerateRequest&) {
  throw UnsupportedError("this provider does not expose its prompts (no prompt_inspection)");
}

std::vector<TokenId> Provider::tokenize(const std::string&, bool) {
  throw UnsupportedError("this provider does not expose its tokenizer (no prompt_inspection)");
}

std::string Provider::detokenize(const std::vector<TokenId>&, bool) {
  throw UnsupportedError("this provider does not expose its tokenizer (no prompt_inspection)");
}

EmbedResponse Provider::embed(const EmbedRequest&) {
  throw UnsupportedError("this provider does not compute embeddings");
}

PreparedRequest Provider::prepare(const GenerateRequest& request) const {
  request.validate();
  PreparedRequest out;
  out.params = request.params;
  out.tools = request.tool_choice == "none" ? nlohmann::json::array() : request.tools;
  out.tool_choice = request.tool_choice;
  out.grammar = request.grammar;
  out.truncation = request.truncation;
  out.logprobs = request.logprobs;
  out.model = request.model;

  if (request.system_prompt) out.messages.push_back({"system", *request.system_prompt, {}});
  if (request.prompt) {
    out.messages.push_back({"user", *request.prompt, request.files});
    out.messages.back().attachment_offsets = request.file_offsets;
  } else {
    for (auto& m : request.messages) out.messages.push_back(m);
    if (!request.files.empty()) {
      for (auto it = out.messages.rbegin(); it != out.messages.rend(); ++it) {
        if (it->role == "user") {
          it->attachments.insert(it->attachments.end(), request.files.begin(), request.files.end());
          if (!request.file_offsets.empty()) it->attachment_offsets = request.file_offsets;
          break;
        }
      }
    }
  }

  const size_t first_message = request.system_prompt ? 1 : 0;  // index in request.messages
  for (size_t i = 0; i < out.messages.size(); ++i) {
    const Message& m = out.messages[i];
    if (i < first_message) require_utf8(m.content, "the system prompt");
    else if (request.prompt) require_utf8(m.content, "the prompt");
    else require_utf8(m.content, "messages[" + std::to_string(i - first_message) + "] (" + m.role + ")");
  }

  std::optional<Capabilities> caps;  // asked for only when an image shows up
  // Checked from the handler's kind, before the image is decoded.
  const AttachmentCheck vision_first = [&](MediaKind kind, const std::filesystem::path& path) {
    if (kind != MediaKind::image) return;
    if (!caps) caps = capabilities();
    require_vision(*caps, kind, path);
  };
  for (size_t i = 0; i < out.messages.size(); ++i) {
    Message& m = out.messages[i];
    const bool placed = !m.attachment_offsets.empty();
    std::vector<std::string> texts;
    size_t shift = 0;  // bytes of text attachments placed so far
    for (size_t k = 0; k < m.attachments.size(); ++k) {
      const std::filesystem::path& path = m.attachments[k];
      MediaContent media = load_attachment(path, media_limits_, vision_first);
      const size_t at = placed ? m.attachment_offsets[k] + shift : 0;
      if (media.kind == MediaKind::image) {
        if (!caps) caps = capabilities();
        require_vision(*caps, media);  // a handler's load() may still produce another kind than it said
        out.images.push_back({i, at, std::move(media)});
      } else if (placed) {  // its text where the file was placed
        m.content.insert(at, media.text);
        shift += media.text.size();
      } else {
        texts.push_back(std::move(media.text));
      }
    }
    m.attachments.clear();
    m.attachment_offsets.clear();
    fold_text_attachments(m, texts);
  }
  return out;
}

GenerateResponse Provider::run_serialised(const GenerateRequest& request, const StreamCallback& on_delta,
                                          const CancellationToken& cancel) {
  if (cancel.cancelled()) return cancelled_before_start(request.model);
  PreparedRequest prepared = prepare(request);
  {
    // Wait our turn, still noticing a cancellation while queued.
    std::unique_lock lock(busy_mutex_);
    while (busy_) {
      if (cancel.cancelled()) return cancelled_before_start(request.model);
      busy_cv_.wait_for(lock, std::chrono::milliseconds(10));
    }
    if (cancel.cancelled()) return cancelled_before_start(request.model);
    busy_ = true;
  }
  struct Release {
    Provider* p;
    ~Release() {
      {
        std::lock_guard lock(p->busy_mutex_);
        p->busy_ = false;
      }
      p->busy_cv_.notify_all();
    }
  } release{this};
  static const StreamCallback ignore = [](const StreamDelta&) {};
  return do_generate(prepared, on_delta ? on_delta : ignore, cancel);
}

GenerateResponse Provider::generate(const GenerateRequest& request, CancellationToken cancel) {
  return run_serialised(request, {}, cancel);
}

GenerateResponse Provider::generate(const GenerateRequest& request, const StreamCallback& on_delta,
                                    CancellationToken cancel) {
  return run_serialised(request, on_delta, cancel);
}

std::shared_ptr<Provider> Provider::shared_self(const char* what) {
  auto self = weak_from_this().lock();
  if (!self)
    throw InvalidArgumentError(std::string(what) +
                               " needs the provider to be owned by a std::shared_ptr (as create_provider returns it)");
  return self;
}

std::future<GenerateResponse> Provider::generate_async(const GenerateRequest& request, CancellationToken cancel,
                                                       StreamCallback on_delta) {
  auto self = shared_self("generate_async");
  return async_job_pool().submit([self, request, cancel, on_delta = std::move(on_delta)] {
    return self->run_serialised(request, on_delta, cancel);
  });
}

std::shared_ptr<Provider> create_provider(const std::string& name, const nlohmann::json& options) {
  if (auto* factory = Registry::instance().provider(name)) return factory->create(options);
  std::string known;
  for (auto& e : Registry::instance().list(ALLM_KIND_PROVIDER)) known += (known.empty() ? "" : ", ") + e.name;
  throw PluginLoadError("no provider named '" + name + "' is registered (registered: " +
                        (known.empty() ? "none — are the plugins loaded?" : known) + ")");
}

}  // namespace allm
