#pragma once
// Route handlers, one file per API. Each returns false when the request's
// method and path are not one of its routes. They throw ApiError (or any
// exception) for errors found before the answer starts; the router renders it
// in the route's API shape.
#include <memory>

#include "server_context.hpp"

namespace allm::server {

bool openai_route(ServerContext& ctx, const std::shared_ptr<Exchange>& ex);
bool anthropic_route(ServerContext& ctx, const std::shared_ptr<Exchange>& ex);
bool ollama_route(ServerContext& ctx, const std::shared_ptr<Exchange>& ex);
// /v1/embeddings (OpenAI), /api/embed and /api/embeddings (Ollama).
bool embedding_route(ServerContext& ctx, const std::shared_ptr<Exchange>& ex);
// /health, /tokenize, /detokenize, /apply-template, /metrics.
bool utility_route(ServerContext& ctx, const std::shared_ptr<Exchange>& ex);
// The chat page: GET / (for browsers) and /webui/<file>; public, unless --no-webui.
bool webui_route(ServerContext& ctx, const std::shared_ptr<Exchange>& ex);

// Answers `e` in `flavor`'s shape (with Retry-After when it has one).
void send_error(Exchange& ex, ApiFlavor flavor, const ApiError& e);
void send_json(Exchange& ex, int status, const json& body);

// Generation parameters every API shares, read from an object whose keys use
// OpenAI/llama.cpp names (Ollama's options use the same names, with
// num_predict and repeat_penalty). Rejects what cannot be honoured.
GenerationParams read_sampling(const json& j);

// OpenAI chat messages (text parts, tool calls and tool results) as Messages;
// errors are 400s naming the message.
// Image parts become attachments written by `images`; null: image parts are refused.
std::vector<Message> openai_messages(const json& body, ImageInputs* images = nullptr, const std::string& model = {});

// Prompt inspection of a served model: its provider must implement it.
Provider& inspecting_provider(const ServedModel& m, bool raw);

}  // namespace allm::server
