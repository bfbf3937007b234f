#pragma once
// One error type for every route; each API adapter renders it in its own shape
// (OpenAI {"error":{message,type,param,code}}, Anthropic {"type":"error",...},
// Ollama {"error":"..."}) with the HTTP status it carries.
#include <exception>
#include <string>

namespace allm::server {

enum class ApiFlavor { openai, anthropic, ollama };

struct ApiError : std::exception {
  int status = 400;
  std::string kind;     // invalid_request | authentication | not_found | too_large | overloaded | unsupported | internal
  std::string message;
  std::string param;    // the offending field, when known
  int retry_after_s = 0;  // > 0: sent as Retry-After

  ApiError(int status, std::string kind, std::string message, std::string param = {})
      : status(status), kind(std::move(kind)), message(std::move(message)), param(std::move(param)) {}
  const char* what() const noexcept override { return message.c_str(); }
};

inline ApiError bad_request(std::string message, std::string param = {}) {
  return ApiError(400, "invalid_request", std::move(message), std::move(param));
}
// A parameter the server does not honour: a 400 naming it, never a silent drop.
inline ApiError unsupported_param(const std::string& param, const std::string& why) {
  return ApiError(400, "unsupported", "'" + param + "' is not supported by allm serve: " + why, param);
}

// Any exception thrown while serving -> ApiError (allm::Error codes map to
// 400/404/500; unknown exceptions are 500 with their message).
ApiError to_api_error(const std::exception_ptr& e);

// The API a route belongs to, from its path (for errors found before routing).
ApiFlavor flavor_of_path(const std::string& path);

// The body (JSON text) of `e` in `flavor`'s shape.
std::string error_body(ApiFlavor flavor, const ApiError& e);

}  // namespace allm::server
