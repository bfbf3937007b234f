// libFuzzer entry: byte 0 picks a route, the rest is the request's JSON body.
// The route handler parses it into an InferenceRequest and submits it; the
// stand-in scheduler runs it at once on a provider whose reply is the last
// message's text (so the fuzzer also steers what the answer formatting and
// any reply parsing see). Every outcome must be an answer with a status
// below 500: an internal error caused by a request body is a bug.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>

#include "allm/error.hpp"
#include "allm/provider.hpp"
#include "routes.hpp"
#include "server_context.hpp"

namespace {

using namespace allm;
using namespace allm::server;

class EchoProvider final : public Provider {
 public:
  explicit EchoProvider(bool raw) : raw_(raw) {}
  Capabilities capabilities() const override {
    Capabilities c;
    c.model = "fuzz-model";
    c.max_context = 4096;
    c.tool_use = !raw_;
    c.model_info = {{"prompt_inspection", true}};
    return c;
  }
  PromptPreview preview_prompt(const GenerateRequest& request) override {
    PreparedRequest p = prepare(request);
    PromptPreview out;
    for (auto& m : p.messages) out.text += m.role + ": " + m.content + "\n";
    out.ids = tokenize(out.text, true);
    return out;
  }
  std::vector<TokenId> tokenize(const std::string& text, bool) override {
    std::vector<TokenId> ids;
    for (unsigned char c : text) ids.push_back(c);
    return ids;
  }
  std::string detokenize(const std::vector<TokenId>& ids, bool) override {
    std::string s;
    for (TokenId id : ids) {
      if (id < 0 || id > 255) throw InvalidArgumentError("token id " + std::to_string(id) + " is outside the vocabulary");
      s.push_back(static_cast<char>(id));
    }
    return s;
  }

 protected:
  GenerateResponse do_generate(const PreparedRequest& request, const StreamCallback& on_delta,
                               const CancellationToken&) override {
    GenerateResponse r;
    r.model = "fuzz-model";
    r.finish_reason = finish_reason::stop;
    if (!request.messages.empty()) r.text = request.messages.back().content.substr(0, 4096);
    // Two pieces: streamed answers are assembled from several events.
    size_t half = r.text.size() / 2;  // at a character boundary, as a real provider's deltas are
    while (half > 0 && (static_cast<unsigned char>(r.text[half]) & 0xC0) == 0x80) --half;
    StreamDelta piece;
    piece.text = r.text.substr(0, half);
    on_delta(piece);
    piece.text = r.text.substr(half);
    on_delta(piece);
    r.usage.prompt_tokens = 1;
    r.usage.completion_tokens = static_cast<int64_t>(r.text.size());
    r.usage.total_tokens = r.usage.prompt_tokens + r.usage.completion_tokens;
    return r;
  }

 private:
  bool raw_;
};

// Runs each job on the calling thread, as a slot worker would.
class InlineScheduler final : public Scheduler {
 public:
  bool submit(std::shared_ptr<InferenceJob> job) override {
    try {
      // As SlotScheduler: on_start and on_delta are optional.
      if (job->on_start) job->on_start();
      Provider& p = job->request.raw ? *job->request.model->raw : *job->request.model->chat;
      InferenceResult result;
      result.response = job->on_delta ? p.generate(job->request.generate, job->on_delta, job->cancel)
                                      : p.generate(job->request.generate, job->cancel);
      job->on_done(result);
    } catch (...) {
      const ApiError e = to_api_error(std::current_exception());
      if (e.status >= 500) std::fprintf(stderr, "internal error while generating: %s\n", e.message.c_str());
      job->on_error(std::current_exception());
    }
    return true;
  }
  SchedulerStats stats() const override { return {}; }
  void cancel_all() override {}
  void shutdown() override {}
};

struct Route {
  const char* method;
  const char* path;
};
constexpr Route kRoutes[] = {
    {"POST", "/v1/chat/completions"}, {"POST", "/v1/completions"}, {"POST", "/v1/messages"},
    {"POST", "/v1/messages/count_tokens"}, {"POST", "/api/chat"}, {"POST", "/api/generate"},
    {"POST", "/api/show"}, {"POST", "/tokenize"}, {"POST", "/detokenize"},
    {"POST", "/apply-template"},
};

struct Server {
  ServerOptions options;
  ModelRegistry models{[](const std::string&, bool raw) { return std::make_shared<EchoProvider>(raw); },
                       /*allow_any_path=*/false, /*max_loaded=*/2, /*slots=*/1};
  InlineScheduler scheduler;
  Metrics metrics;
  ServerContext ctx{options, models, scheduler, metrics};
  Server() { models.load_pinned("fuzz-model"); }
};

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  // Model names in requests are looked up in the model stores: keep them
  // empty so a run does not depend on the machine's caches.
  setenv("HOME", "/nonexistent/allm-fuzz-home", 1);
  for (const char* v : {"HF_HOME", "HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE", "XDG_CACHE_HOME", "OLLAMA_MODELS"})
    unsetenv(v);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static Server server;
  if (size == 0) return 0;
  const Route& route = kRoutes[data[0] % (sizeof kRoutes / sizeof kRoutes[0])];
  HttpRequest request;
  request.method = route.method;
  request.target = request.path = route.path;
  request.headers["content-type"] = "application/json";
  request.body.assign(reinterpret_cast<const char*>(data) + 1, size - 1);
  auto ex = std::make_shared<Exchange>(nullptr, std::move(request), Headers{});
  const ApiFlavor flavor = flavor_of_path(ex->request().path);
  int status = 0;
  try {
    const bool routed = openai_route(server.ctx, ex) || anthropic_route(server.ctx, ex) ||
                        ollama_route(server.ctx, ex) || utility_route(server.ctx, ex);
    if (!routed) __builtin_trap();  // the table above names routes that exist
    status = ex->record().status;
  } catch (...) {
    const ApiError e = to_api_error(std::current_exception());
    send_error(*ex, flavor, e);
    status = e.status;
    if (status >= 500) std::fprintf(stderr, "internal error for %s: %s\n", ex->request().path.c_str(), e.message.c_str());
  }
  if (status == 0) status = ex->record().status;
  if (status == 0 || status >= 500) {
    std::fprintf(stderr, "%s answered %d\n", ex->request().path.c_str(), status);
    __builtin_trap();
  }
  return 0;
}
